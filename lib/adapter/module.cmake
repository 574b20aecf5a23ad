# adapter: the adapter ABI (registry by URI scheme), the generic device layer and the poll scheduler.
tw_module(adapter SOURCES adapter.c poller.c util.c)
