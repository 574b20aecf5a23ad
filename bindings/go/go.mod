module tagwire

go 1.24
