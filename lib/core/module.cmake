tw_module(core SOURCES core.c status.c secret.c file.c base64.c uri.c)
