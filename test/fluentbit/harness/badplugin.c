/*
 * badplugin: a Go-proxy input plugin written in C that breaks the contract in
 * the way BADPLUGIN_MODE says, so the tests can show that the harness catches
 * it. Built with: gcc -shared -fPIC -o badplugin.so badplugin.c
 *
 *   wrapped     all records inside one outer array
 *   int-time    an integer timestamp instead of EventTime
 *   size0-leak  a buffer returned with size 0 (Fluent Bit >= 4.1 leaks it)
 *   truncated   a record cut short
 */
#include <stdlib.h>
#include <string.h>

struct def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

static const unsigned char record[] = {
    0x92,                                                 /* [ */
    0xd7, 0x00, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* EventTime */
    0x81, 0xa1, 'k', 0xa1, 'v'                            /* {"k":"v"} ] */
};

int FLBPluginRegister(void *p)
{
    struct def *d = p;
    d->type = 1;
    d->proxy = 11;
    d->name = strdup("bad");
    d->description = strdup("breaks the contract");
    return 0;
}

void FLBPluginUnregister(void *p)
{
    struct def *d = p;
    free(d->name);
    free(d->description);
}

int FLBPluginInit(void *plugin)
{
    (void) plugin;
    return 1;
}

int FLBPluginInputCallback(void **data, size_t *size)
{
    const char *mode = getenv("BADPLUGIN_MODE");
    unsigned char *b = malloc(64);

    *data = b;
    *size = 0;
    if (mode == NULL || strcmp(mode, "wrapped") == 0) {
        b[0] = 0x92; /* two records in one array */
        memcpy(b + 1, record, sizeof(record));
        memcpy(b + 1 + sizeof(record), record, sizeof(record));
        *size = 1 + 2 * sizeof(record);
    }
    else if (strcmp(mode, "int-time") == 0) {
        b[0] = 0x92;
        b[1] = 0xce; /* uint32 seconds */
        memset(b + 2, 0x11, 4);
        memcpy(b + 6, record + 11, sizeof(record) - 11);
        *size = 6 + sizeof(record) - 11;
    }
    else if (strcmp(mode, "size0-leak") == 0) {
        /* size stays 0 */
    }
    else if (strcmp(mode, "truncated") == 0) {
        memcpy(b, record, sizeof(record));
        *size = sizeof(record) - 2;
    }
    return 1;
}

int FLBPluginInputCleanupCallback(void *data)
{
    free(data);
    return 1;
}

int FLBPluginExit(void)
{
    return 1;
}
