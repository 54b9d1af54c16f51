#!/usr/bin/perl
# A classic CGI.pm program, run unchanged by exec-bridge's CGI mode in the tests.
use strict;
use warnings;
use CGI;
use JSON::PP;

my $q = CGI->new;
my $path = $ENV{PATH_INFO} // '';
binmode STDOUT;

if ($path eq '/redirect') {
    print $q->redirect(-uri => 'https://example.com/elsewhere', -status => '302 Found');
} elsif ($path eq '/missing') {
    print $q->header(-status => '404 Not Found', -type => 'text/plain', -charset => 'utf-8'), "nothing at $path\n";
} elsif ($path eq '/upload') {
    my $fh = $q->upload('file');
    local $/;
    binmode $fh;
    my $data = <$fh>;
    print $q->header(-type => 'application/octet-stream', -X_Upload_Name => scalar $q->param('file')), $data;
} else {
    my %params = map { my @v = $q->multi_param($_); ($_ => \@v) } $q->param;
    my $cookie1 = $q->cookie(-name => 'a', -value => '1');
    my $cookie2 = $q->cookie(-name => 'b', -value => '2');
    print $q->header(-type => 'application/json', -charset => 'utf-8', -cookie => [$cookie1, $cookie2],
                     -X_Greeting => "h\xc3\xa9llo"),
          JSON::PP->new->canonical->encode({
              method => $ENV{REQUEST_METHOD}, path => $path, query => $ENV{QUERY_STRING},
              params => \%params, server => $ENV{SERVER_NAME}, remote => $ENV{REMOTE_ADDR},
              agent => $ENV{HTTP_USER_AGENT}, cookie => $ENV{HTTP_COOKIE} // '',
          });
}
