/* Second S7 peer: snap7's own server (libsnap7's Srv_* API, C++ code of the snap7 project, not
 * tagwire's), with DB1 (64 bytes, byte 0 = 0x05) and M (16 bytes). usage: snap7_server PORT DUMPFILE
 * On SIGTERM it writes "DB1 <hex>" and "M <hex>" to DUMPFILE. Used for native S7 bit writes, which
 * python-snap7's pure-Python server does not implement (it writes the whole byte). */
#include <signal.h>
#include <snap7.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;
static void on_sig(int s) { (void)s; g_stop = 1; }

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    static unsigned char db1[64], mk[16];
    db1[0] = 0x05;
    db1[2] = 0x12;
    db1[3] = 0x34;
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    S7Object srv = Srv_Create();
    uint16_t port = (uint16_t)atoi(argv[1]);
    Srv_SetParam(srv, p_u16_LocalPort, &port);
    Srv_RegisterArea(srv, srvAreaDB, 1, db1, sizeof db1);
    Srv_RegisterArea(srv, srvAreaMK, 0, mk, sizeof mk);
    if (Srv_StartTo(srv, "127.0.0.1") != 0) {
        fprintf(stderr, "cannot start\n");
        return 1;
    }
    fprintf(stderr, "ready\n");
    while (!g_stop) usleep(20000);
    Srv_Stop(srv);
    FILE *f = fopen(argv[2], "w");
    if (f) {
        fprintf(f, "DB1 ");
        for (size_t i = 0; i < sizeof db1; i++) fprintf(f, "%02x", db1[i]);
        fprintf(f, "\nM ");
        for (size_t i = 0; i < sizeof mk; i++) fprintf(f, "%02x", mk[i]);
        fprintf(f, "\n");
        fclose(f);
    }
    Srv_Destroy(&srv);
    return 0;
}
