module runtime_go

go 1.19
