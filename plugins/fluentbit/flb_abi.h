/*
 * The part of Fluent Bit's Go proxy ABI that in_auditpull.so touches.
 *
 * The structures are prefixes of Fluent Bit's own (src/proxy/go/go.h,
 * include/fluent-bit/flb_plugin_proxy.h, include/fluent-bit/flb_api.h):
 * only the leading fields, which have kept their offsets from 2.0 to 4.x, are
 * declared, so nothing here depends on fields a version added at the end.
 *
 * fluent-bit-go's input header declares the per-instance context as
 * { void *remote_context; }, which is wrong for every version: the input
 * proxy context starts with the collector fd, and only Fluent Bit >= 4.1 has a
 * remote_context (at offset 8) that is handed back to the Ctx callbacks. Before
 * 4.1 offset 8 holds the proxy pointer, so writing a context there would
 * corrupt Fluent Bit. ap_context_layout() tells the two apart without writing.
 */
#ifndef AUDITPULL_FLB_ABI_H
#define AUDITPULL_FLB_ABI_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>

/* Return values of the Go proxy callbacks (fluent-bit-go flb_plugin.h). */
#define AP_FLB_ERROR 0
#define AP_FLB_OK    1

/* Registration (flb_plugin_proxy.h). */
#define AP_FLB_PROXY_INPUT_PLUGIN 1
#define AP_FLB_PROXY_GOLANG       11

/* Fluent Bit log levels (flb_log.h): error 1, warn 2, info 3, debug 4, trace 5. */
#define AP_LOG_ERROR 1
#define AP_LOG_TRACE 5

/* struct flb_plugin_proxy_def, leading fields (filled by FLBPluginRegister). */
struct ap_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

/* struct flb_api, leading fields (unchanged since 2.0). */
struct ap_api {
    void *output_get_property;
    const char *(*input_get_property)(const char *key, void *i_ins);
    void *output_get_cmt_instance;
    void *(*input_get_cmt_instance)(void *i_ins);
    void (*log_print)(int level, const char *file, int line, const char *fmt, ...);
    int (*input_log_check)(void *i_ins, int level);
    void *output_log_check;
};

/* struct flb_plugin_proxy, leading fields. */
struct ap_proxy {
    void *def;
    struct ap_api *api;
    void *instance;
    void *dso_handler;
    void *data; /* the struct flbgo_input_plugin handed to FLBPluginInit */
};

/* struct flb_plugin_input_proxy_context, Fluent Bit >= 4.1. */
struct ap_input_ctx_41 {
    int coll_fd;
    void *remote_context;
    struct ap_proxy *proxy;
};

/* The same context before 4.1 (2.0 - 4.0): no remote_context. */
struct ap_input_ctx_20 {
    int coll_fd;
    struct ap_proxy *proxy;
};

/* struct flbgo_input_plugin, leading fields (the callbacks follow). */
struct ap_go_input_plugin {
    char *name;
    struct ap_api *api;
    void *i_ins;
    void *context;
};

#define AP_LAYOUT_UNKNOWN 0
#define AP_LAYOUT_20      20
#define AP_LAYOUT_41      41

static inline int ap_is_proxy_of(struct ap_proxy *proxy, struct ap_go_input_plugin *p)
{
    /* Values below 64 KiB are never heap pointers (and are what our own
     * remote_context handles look like): do not dereference them. */
    if ((uintptr_t) proxy < 65536) {
        return 0;
    }
    return proxy->data == (void *) p && proxy->api == p->api;
}

/*
 * Which context layout the host uses. Before 4.1, offset 8 of the context is
 * the proxy, whose data points back at the plugin struct. From 4.1 offset 8
 * is remote_context (calloc'ed, so NULL until set) and the proxy follows.
 * Offset 16 is read only when offset 8 is NULL, which cannot happen before 4.1.
 */
static inline int ap_context_layout(struct ap_go_input_plugin *p)
{
    struct ap_input_ctx_20 *old;
    struct ap_input_ctx_41 *cur;

    if (p == NULL || p->context == NULL) {
        return AP_LAYOUT_UNKNOWN;
    }
    old = (struct ap_input_ctx_20 *) p->context;
    if (old->proxy != NULL) {
        return ap_is_proxy_of(old->proxy, p) ? AP_LAYOUT_20 : AP_LAYOUT_UNKNOWN;
    }
    cur = (struct ap_input_ctx_41 *) p->context;
    return ap_is_proxy_of(cur->proxy, p) ? AP_LAYOUT_41 : AP_LAYOUT_UNKNOWN;
}

static inline void ap_set_remote_context(struct ap_go_input_plugin *p, uintptr_t handle)
{
    ((struct ap_input_ctx_41 *) p->context)->remote_context = (void *) handle;
}

static inline const char *ap_get_property(struct ap_go_input_plugin *p, const char *key)
{
    if (p == NULL || p->api == NULL || p->api->input_get_property == NULL) {
        return NULL;
    }
    return p->api->input_get_property(key, p->i_ins);
}

/* The instance's log_level as a number (1 error .. 5 trace); 3 (info) when
 * the host does not say. */
static inline int ap_log_level(struct ap_go_input_plugin *p)
{
    int level;

    if (p == NULL || p->api == NULL || p->api->input_log_check == NULL || p->i_ins == NULL) {
        return 3;
    }
    for (level = AP_LOG_TRACE; level > AP_LOG_ERROR; level--) {
        if (p->api->input_log_check(p->i_ins, level)) {
            break;
        }
    }
    return level;
}

/* ap_log_print writes one message through Fluent Bit's logger (flb_log_print),
 * which adds the time and level. From a thread Fluent Bit runs the plugin on
 * it honours log_file; the plugin calls it only there. */
static inline void ap_log_print(struct ap_api *api, int level, const char *msg)
{
    if (api != NULL && api->log_print != NULL) {
        api->log_print(level, "in_auditpull", 0, "%s", msg);
    }
}

/* The cmetrics calls, resolved from Fluent Bit's own binary, which exports
 * its symbols (fluent-bit-bin is linked with ENABLE_EXPORTS): the plugin
 * then uses the cmetrics Fluent Bit was built with, whatever its version,
 * and links none of its own. The signatures are those of cmetrics since
 * Fluent Bit 1.8. */
struct ap_cmt_calls {
    void *(*counter_create)(void *cmt, char *ns, char *subsystem, char *name, char *help,
                            int label_count, char **label_keys);
    void *(*gauge_create)(void *cmt, char *ns, char *subsystem, char *name, char *help,
                          int label_count, char **label_keys);
    int (*counter_set)(void *counter, uint64_t ts, double val, int labels_count, char **label_vals);
    int (*gauge_set)(void *gauge, uint64_t ts, double val, int labels_count, char **label_vals);
};

/*
 * ap_cmt_context returns the instance's cmetrics context, or NULL when the
 * host offers none the plugin can use safely: Fluent Bit allocates its API
 * table without zeroing it and fills input_get_cmt_instance only when built
 * with metrics, so the pointer is trusted only if it is the function the
 * binary exports under that name, and only if every cmetrics call resolves.
 * Called from init, on the instance's thread.
 */
static inline void *ap_cmt_context(struct ap_go_input_plugin *p, struct ap_cmt_calls *c)
{
    void *fn;

    if (p == NULL || p->api == NULL || p->i_ins == NULL) {
        return NULL;
    }
    fn = dlsym(RTLD_DEFAULT, "flb_input_get_cmt_instance");
    if (fn == NULL || fn != (void *) p->api->input_get_cmt_instance) {
        return NULL;
    }
    *(void **) &c->counter_create = dlsym(RTLD_DEFAULT, "cmt_counter_create");
    *(void **) &c->gauge_create = dlsym(RTLD_DEFAULT, "cmt_gauge_create");
    *(void **) &c->counter_set = dlsym(RTLD_DEFAULT, "cmt_counter_set");
    *(void **) &c->gauge_set = dlsym(RTLD_DEFAULT, "cmt_gauge_set");
    if (!c->counter_create || !c->gauge_create || !c->counter_set || !c->gauge_set) {
        return NULL;
    }
    return p->api->input_get_cmt_instance(p->i_ins);
}

/* ap_metric_create registers fluentbit_auditpull_<name>{name="<instance>"},
 * as Fluent Bit's own inputs register theirs in the instance's context. */
static inline void *ap_metric_create(const struct ap_cmt_calls *c, void *cmt, int gauge, char *name, char *help)
{
    char *keys[] = {"name"};

    if (gauge) {
        return c->gauge_create(cmt, "fluentbit", "auditpull", name, help, 1, keys);
    }
    return c->counter_create(cmt, "fluentbit", "auditpull", name, help, 1, keys);
}

static inline void ap_metric_set(const struct ap_cmt_calls *c, void *metric, int gauge, double val, char *label)
{
    struct timespec ts;
    uint64_t now;
    char *vals[] = {label};

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
    if (gauge) {
        c->gauge_set(metric, now, val, 1, vals);
    }
    else {
        c->counter_set(metric, now, val, 1, vals);
    }
}

static inline void ap_register(struct ap_proxy_def *def, char *name, char *description)
{
    def->type = AP_FLB_PROXY_INPUT_PLUGIN;
    def->proxy = AP_FLB_PROXY_GOLANG;
    def->flags = 0;
    def->name = name;
    def->description = description;
}

static inline void ap_unregister(struct ap_proxy_def *def)
{
    free(def->name);
    free(def->description);
    def->name = NULL;
    def->description = NULL;
}

/* Fluent Bit runs every input instance in a thread of its own, and calls
 * init, collect and exit of an instance from that thread. */
static inline uint64_t ap_thread_id(void)
{
    return (uint64_t) (uintptr_t) pthread_self();
}

#endif
