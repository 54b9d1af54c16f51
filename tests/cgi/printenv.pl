#!/usr/bin/perl
# The printenv script of every old cgi-bin, answering JSON: the whole environment the program was given.
use strict;
use warnings;
use JSON::PP;

print "Content-Type: application/json\r\n\r\n";
print JSON::PP->new->canonical->encode({%ENV});
