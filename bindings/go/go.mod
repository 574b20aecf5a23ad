module tagwire

go 1.19
