module chunked_go

go 1.19
