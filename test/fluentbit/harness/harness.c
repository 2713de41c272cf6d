/*
 * fbharness: loads a Fluent Bit Go input plugin (.so) the way Fluent Bit's Go
 * proxy does, and writes the records it produces as NDJSON.
 *
 * It follows Fluent Bit's own code (src/flb_plugin_proxy.c, src/proxy/go/go.c,
 * src/flb_input_thread.c), for two ABIs:
 *
 *   -abi 4.1   Fluent Bit >= 4.1: the proxy context is
 *              { int coll_fd; void *remote_context; proxy * }; the Ctx
 *              callbacks are preferred; a collect of size 0 is dropped
 *              without calling cleanup.
 *   -abi 2.1   Fluent Bit 2.1 - 4.0: the context is { int coll_fd; proxy * };
 *              only the plain callbacks exist; every collect is appended and
 *              cleaned up, even of size 0.
 *
 * As in Fluent Bit: dlopen(RTLD_LAZY); FLBPluginRegister on a calloc'ed
 * definition; one plugin struct shared by all instances, pointed at each
 * instance in turn; every instance in a thread of its own, initialised one at
 * a time (the main thread waits for each init), collected on a fixed timer,
 * and exited from that thread with FLBPluginExit(); then FLBPluginUnregister
 * and dlclose. Properties are read through api->input_get_property
 * (case-insensitive, NULL when unset, ${VAR} expanded when set); log_level is
 * the reserved property answered by api->input_log_check. Without a cleanup
 * callback (or with -no-cleanup) the harness frees the buffer itself.
 *
 * Every Go input is a threaded input in Fluent Bit (2.1 and later:
 * flb_plugin_proxy.c sets FLB_INPUT_THREADED), so what a collect appends is
 * first copied into the instance's ring buffer (append_to_ring_buffer in
 * flb_input_chunk.c), and the engine thread moves ring buffers into chunks
 * every 250 ms (flb_engine.c, FLB_DEV_RB_MS). The harness does the same: an
 * appended buffer is queued, and an engine thread writes the queue to the
 * output (the "chunk") every -rb-ms (default 250; 0 appends at once, as an
 * input with `threaded off`). A kill loses what is queued. On a stop the
 * harness shuts down as Fluent Bit does: ingestion stops (collects end, each
 * instance is paused through FLBPluginInputPause on its thread), the engine
 * keeps moving ring buffers for -grace-ms, then each instance exits on its
 * thread and what is still queued is discarded (the ring buffer cleanup of
 * flb_input_instance_destroy).
 *
 * The API table carries log_print and input_get_cmt_instance, and the
 * harness exports the cmetrics calls a plugin resolves from Fluent Bit's
 * binary (built with ENABLE_EXPORTS): cmt_counter_create/set and
 * cmt_gauge_create/set. It records what the plugin registers and sets, and
 * which thread logged: a log_print from a thread that is not Fluent Bit's
 * (a goroutine) bypasses log_file in Fluent Bit, and is counted.
 * -no-metrics-api leaves input_get_cmt_instance out, as a build without
 * metrics does.
 *
 * -crash-after-buffers N raises SIGKILL right after the Nth non-empty
 * collect is appended and cleaned up, before the engine can move it out of
 * the ring buffer: the moment a real Fluent Bit killed then loses the
 * collect unless the plugin's checkpoint does not yet cover it.
 *
 * -reloads N -reload-ms M plays Fluent Bit's hot reload (SIGHUP with
 * hot_reload on; flb_reload.c) N times, M ms after each start: the library
 * opened and FLBPluginRegister called again on the main thread while the
 * old instances still collect, then the old instances stopped as at a
 * shutdown but with grace -1 (every ring buffer moved out first), exited on
 * their threads, the old definition unregistered and its handle closed,
 * and new instances initialised on new threads. Checked against a Fluent
 * Bit 5.1.1 built from source, whose callbacks came in this order.
 *
 * -buffers writes one NDJSON line per buffer: instance, bytes, records.
 *
 * Each buffer is checked: back-to-back [EventTime(ext 0), map] records, fully
 * consumed, no outer array; a violation is reported and the exit code is 3.
 *
 * Usage:
 *   fbharness -so PATH [-abi 4.1|2.1] [-interval-ms 1000] [-out FILE|-]
 *             [-stats FILE] [-buffers FILE] [-records N] [-timeout-ms T] [-duration-ms D]
 *             [-idle-ms I] [-no-cleanup] [-exit-from-main] [-rb-ms R] [-grace-ms G]
 *             [-crash-after-buffers N] [-no-metrics-api]
 *             [-instance] -p key=value ... [-instance -p ...]
 *
 * Stops at N records, after D ms, after I ms without a new record (once one
 * arrived), at the timeout, or on SIGTERM or SIGINT — as Fluent Bit shuts down
 * on them: collecting stops, then each instance exits on its thread. Exit
 * codes: 0 done (a signal included); 1 usage or loading error;
 * 2 an instance failed to initialise (as Fluent Bit refuses to start);
 * 3 ABI or record format violation; 4 timeout before N records.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- Fluent Bit structures (4.x layouts; see the file comment) ---------- */

struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

struct flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
    const char *(*custom_get_property)(const char *, void *);
    int (*custom_log_check)(void *, int);
};

struct mk_list {
    struct mk_list *prev, *next;
};

struct flb_plugin_proxy {
    struct flb_plugin_proxy_def *def;
    struct flb_api *api;
    void *instance;
    void *dso_handler;
    void *data;
    struct mk_list _head;
};

/* >= 4.1 */
struct flb_plugin_input_proxy_context {
    int coll_fd;
    void *remote_context;
    struct flb_plugin_proxy *proxy;
};

/* < 4.1 (2.1 allocates sizeof(struct flb_plugin_proxy_context), 16 bytes) */
struct flb_plugin_input_proxy_context_20 {
    int coll_fd;
    struct flb_plugin_proxy *proxy;
};

struct flbgo_input_plugin {
    char *name;
    void *api;
    void *i_ins;
    void *context;
    int (*cb_init)(struct flbgo_input_plugin *);
    int (*cb_collect)(void **, size_t *);
    int (*cb_collect_ctx)(void *, void **, size_t *);
    int (*cb_cleanup)(void *);
    int (*cb_cleanup_ctx)(void *, void *);
    int (*cb_exit)(void);
};

#define FLB_PROXY_INPUT_PLUGIN 1
#define FLB_PROXY_GOLANG 11

/* ---- harness state -------------------------------------------------------- */

struct prop {
    char *key;
    char *val;
};

struct instance {
    int idx;
    struct prop *props;
    int nprops;
    int log_level;

    void *context; /* the proxy context, as Fluent Bit allocates it */
    pthread_t th;
    int started;
    int init_status; /* 0 pending, 1 ok, -1 failed */
    int remote_context_set;
    int cmt; /* the address is this instance's stand-in cmetrics context */

    long records, buffers;
};

/* A metric the plugin registered through the cmetrics calls. */
struct hmetric {
    int instance;
    int gauge;
    char name[192];  /* ns_subsystem_name */
    char label[128]; /* the value of its one label, once set */
    int label_count;
    double value;
    long sets, off_thread_sets;
};

/* One appended buffer waiting in the ring buffer. */
struct rb_entry {
    struct instance *ins;
    void *data;
    size_t len;
    struct rb_entry *next;
};

static struct {
    int abi41;
    int interval_ms;
    int no_cleanup;
    int exit_from_main;
    int rb_ms;
    int no_metrics_api;
    long grace_ms, crash_after;
    int reloads;    /* hot reloads to play, one every reload_ms */
    long reload_ms;
    long target, timeout_ms, duration_ms, idle_ms;
    const char *so_path, *out_path, *stats_path, *buffers_path;

    FILE *out, *buffers_out;
    void *dso;
    struct flb_plugin_proxy *proxy;
    struct flbgo_input_plugin *plugin;
    struct instance *ins;
    int nins;

    pthread_mutex_t mu; /* guards everything below and the output */
    pthread_cond_t cond;
    int stop;          /* instances exit */
    int ingest_stop;   /* collects end (the engine's stop_ingestion) */
    int start_collect;
    long records, callbacks, empty_callbacks, buffers, bytes, max_buffer;
    long cleanups, host_frees, max_callback_us, nonempty_collects;
    int paused_now;   /* instances whose collects have ended this cycle */
    int reloads_done;
    long pauses, logs[6], logs_off_thread, rb_flushes, rb_discarded, rb_max_wait_ms;
    struct hmetric metrics[256];
    int nmetrics;
    long long last_record_ms;
    char violations[4096];
    int nviolations;
} H;

/* The ring buffers of every instance: appended, not yet in the output. */
static struct {
    pthread_mutex_t mu;
    struct rb_entry *head, *tail;
    int stop;
    pthread_t th;
} RB = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0};

/* Set on the threads Fluent Bit itself runs plugin callbacks on. */
static __thread int host_thread;

/* term is set by SIGTERM/SIGINT; the main loop polls it every 10 ms. */
static volatile sig_atomic_t term;

static void on_term(int sig)
{
    term = sig;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void hlog(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[harness] ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* violation records an ABI or format error; the caller holds H.mu. */
static void violation(const char *fmt, ...)
{
    char msg[512];
    size_t len = strlen(H.violations);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hlog("VIOLATION: %s", msg);
    H.nviolations++;
    if (len + strlen(msg) + 2 < sizeof(H.violations)) {
        strcat(H.violations, msg);
        strcat(H.violations, "\n");
    }
    H.stop = 1;
    pthread_cond_broadcast(&H.cond);
}

/* ---- the API Fluent Bit exports to Go plugins ------------------------------ */

static const char *api_input_get_property(const char *key, void *i_ins)
{
    struct instance *ins = i_ins;
    int i;

    for (i = 0; i < ins->nprops; i++) {
        if (strcasecmp(ins->props[i].key, key) == 0) {
            return ins->props[i].val;
        }
    }
    return NULL;
}

static int api_input_log_check(void *i_ins, int level)
{
    struct instance *ins = i_ins;
    return ins->log_level >= level;
}

/* log_print plays flb_log_print: the message under Fluent Bit's header on
 * stderr. A call from a thread Fluent Bit did not start is counted: there,
 * Fluent Bit writes to stderr whatever log_file says. */
static void api_log_print(int type, const char *file, int line, const char *fmt, ...)
{
    static const char *tags[] = {"", "error", " warn", " info", "debug", "trace"};
    char body[4096], ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    (void) file;
    (void) line;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tm);
    pthread_mutex_lock(&H.mu);
    if (type >= 1 && type <= 5) {
        H.logs[type]++;
    }
    if (!host_thread) {
        H.logs_off_thread++;
    }
    fprintf(stderr, "[%s.%03ld] [%s] %s\n", ts, now.tv_nsec / 1000000, type >= 1 && type <= 5 ? tags[type] : "  ???", body);
    pthread_mutex_unlock(&H.mu);
}

/* flb_input_get_cmt_instance: each instance's cmetrics context. The
 * exported name lets a plugin check that the API's pointer is the real
 * function (a Fluent Bit built without metrics leaves it unset). */
void *flb_input_get_cmt_instance(void *i_ins)
{
    return &((struct instance *) i_ins)->cmt;
}

static void *metric_create(void *cmt, int gauge, char *ns, char *subsystem, char *name, int label_count)
{
    struct hmetric *m = NULL;
    int i;

    pthread_mutex_lock(&H.mu);
    for (i = 0; i < H.nins; i++) {
        if (cmt == &H.ins[i].cmt) {
            break;
        }
    }
    if (i == H.nins) {
        violation("a metric was created in a context no instance owns");
    }
    else if (H.nmetrics < (int) (sizeof(H.metrics) / sizeof(H.metrics[0]))) {
        m = &H.metrics[H.nmetrics++];
        memset(m, 0, sizeof(*m));
        m->instance = i;
        m->gauge = gauge;
        m->label_count = label_count;
        snprintf(m->name, sizeof(m->name), "%s_%s_%s", ns, subsystem, name);
    }
    pthread_mutex_unlock(&H.mu);
    return m;
}

static int metric_set(void *metric, double val, int labels_count, char **label_vals, int gauge)
{
    struct hmetric *m = metric;
    int ret = 0;

    pthread_mutex_lock(&H.mu);
    if (m < H.metrics || m >= H.metrics + H.nmetrics || m->gauge != gauge) {
        violation("a metric was set through a pointer no create returned");
        ret = -1;
    }
    else if (labels_count != m->label_count) {
        violation("metric %s set with %d labels, created with %d", m->name, labels_count, m->label_count);
        ret = -1;
    }
    else if (!gauge && val < m->value) {
        ret = -1; /* cmetrics refuses to lower a counter */
    }
    else {
        m->value = val;
        m->sets++;
        if (!host_thread) {
            m->off_thread_sets++;
        }
        if (labels_count > 0) {
            snprintf(m->label, sizeof(m->label), "%s", label_vals[0]);
        }
    }
    pthread_mutex_unlock(&H.mu);
    return ret;
}

void *cmt_counter_create(void *cmt, char *ns, char *subsystem, char *name, char *help,
                         int label_count, char **label_keys)
{
    (void) help;
    (void) label_keys;
    return metric_create(cmt, 0, ns, subsystem, name, label_count);
}

void *cmt_gauge_create(void *cmt, char *ns, char *subsystem, char *name, char *help,
                       int label_count, char **label_keys)
{
    (void) help;
    (void) label_keys;
    return metric_create(cmt, 1, ns, subsystem, name, label_count);
}

int cmt_counter_set(void *counter, uint64_t ts, double val, int labels_count, char **label_vals)
{
    (void) ts;
    return metric_set(counter, val, labels_count, label_vals, 0);
}

int cmt_gauge_set(void *gauge, uint64_t ts, double val, int labels_count, char **label_vals)
{
    (void) ts;
    return metric_set(gauge, val, labels_count, label_vals, 1);
}

static const char *api_unused_get_property(const char *key, void *ins)
{
    (void) key;
    (void) ins;
    return NULL;
}

static int api_unused_log_check(void *ins, int level)
{
    (void) ins;
    (void) level;
    return 0;
}

/* ${VAR} expansion, as flb_env_var_translate does for property values. */
static char *expand_env(const char *v)
{
    size_t cap = strlen(v) + 1, len = 0;
    char *out = malloc(cap);
    const char *p = v;

    while (*p) {
        if (p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
            const char *end = strchr(p, '}');
            char name[256];
            size_t n = (size_t) (end - p - 2);
            const char *val;
            if (n >= sizeof(name)) {
                n = sizeof(name) - 1;
            }
            memcpy(name, p + 2, n);
            name[n] = '\0';
            val = getenv(name);
            if (val == NULL) {
                val = "";
            }
            if (len + strlen(val) + 1 > cap) {
                cap = len + strlen(val) + strlen(end) + 1;
                out = realloc(out, cap);
            }
            memcpy(out + len, val, strlen(val));
            len += strlen(val);
            p = end + 1;
            continue;
        }
        if (len + 2 > cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        out[len++] = *p++;
    }
    out[len] = '\0';
    return out;
}

static void log_level_of(struct instance *ins, const char *v)
{
    static const char *names[] = {"off", "error", "warn", "info", "debug", "trace"};
    int i;
    for (i = 0; i < 6; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            ins->log_level = i;
            return;
        }
    }
    hlog("unknown log_level %s", v);
    exit(1);
}

static void add_prop(struct instance *ins, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char *key, *val;

    if (eq == NULL || eq == kv) {
        hlog("property %s is not key=value", kv);
        exit(1);
    }
    key = strndup(kv, (size_t) (eq - kv));
    val = expand_env(eq + 1);
    if (strcasecmp(key, "log_level") == 0) { /* reserved: kept by Fluent Bit */
        log_level_of(ins, val);
        free(key);
        free(val);
        return;
    }
    if (val[0] == '\0') { /* Fluent Bit stores an empty value as NULL */
        free(val);
        val = NULL;
    }
    ins->props = realloc(ins->props, sizeof(struct prop) * (size_t) (ins->nprops + 1));
    ins->props[ins->nprops].key = key;
    ins->props[ins->nprops].val = val;
    ins->nprops++;
}

/* ---- msgpack checking and NDJSON output ------------------------------------ */

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_grow(struct sbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t) n);
}

static void sb_json_string(struct sbuf *b, const uint8_t *s, size_t n)
{
    size_t i, run;
    sb_put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        uint8_t c = s[i];
        /* Copy a run of bytes that need no escape at once: most are. */
        for (run = i; run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\'; run++) {
        }
        if (run > i) {
            sb_put(b, (const char *) s + i, run - i);
            i = run - 1;
            continue;
        }
        switch (c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                sb_printf(b, "\\u%04x", c);
            }
            else {
                sb_put(b, (const char *) &c, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

struct mp {
    const uint8_t *p, *end;
    const char *err;
};

static int mp_need(struct mp *m, size_t n)
{
    if ((size_t) (m->end - m->p) < n) {
        m->err = "truncated msgpack";
        return -1;
    }
    return 0;
}

static uint64_t mp_be(struct mp *m, int n)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++) {
        v = (v << 8) | m->p[i];
    }
    m->p += n;
    return v;
}

/* mp_value converts one msgpack value to JSON. Only string map keys are
 * accepted (Fluent Bit records have string keys). */
static int mp_value(struct mp *m, struct sbuf *b, int depth);

static int mp_len(struct mp *m, int n, uint64_t *out)
{
    if (mp_need(m, (size_t) n) < 0) {
        return -1;
    }
    *out = mp_be(m, n);
    return 0;
}

static int mp_str(struct mp *m, struct sbuf *b, uint64_t n)
{
    if (mp_need(m, n) < 0) {
        return -1;
    }
    sb_json_string(b, m->p, n);
    m->p += n;
    return 0;
}

static int mp_container(struct mp *m, struct sbuf *b, uint64_t n, int is_map, int depth)
{
    uint64_t i;
    sb_put(b, is_map ? "{" : "[", 1);
    for (i = 0; i < n; i++) {
        if (i > 0) {
            sb_put(b, ",", 1);
        }
        if (is_map) {
            uint8_t c;
            uint64_t kl;
            if (mp_need(m, 1) < 0) {
                return -1;
            }
            c = *m->p++;
            if ((c & 0xe0) == 0xa0) {
                kl = c & 0x1f;
            }
            else if (c == 0xd9) {
                if (mp_len(m, 1, &kl) < 0) return -1;
            }
            else if (c == 0xda) {
                if (mp_len(m, 2, &kl) < 0) return -1;
            }
            else if (c == 0xdb) {
                if (mp_len(m, 4, &kl) < 0) return -1;
            }
            else {
                m->err = "map key is not a string";
                return -1;
            }
            if (mp_str(m, b, kl) < 0) {
                return -1;
            }
            sb_put(b, ":", 1);
        }
        if (mp_value(m, b, depth + 1) < 0) {
            return -1;
        }
    }
    sb_put(b, is_map ? "}" : "]", 1);
    return 0;
}

static int mp_value(struct mp *m, struct sbuf *b, int depth)
{
    uint8_t c;
    uint64_t n;

    if (depth > 64) {
        m->err = "nesting too deep";
        return -1;
    }
    if (mp_need(m, 1) < 0) {
        return -1;
    }
    c = *m->p++;
    if (c <= 0x7f) {
        sb_printf(b, "%u", c);
        return 0;
    }
    if (c >= 0xe0) {
        sb_printf(b, "%d", (int) (int8_t) c);
        return 0;
    }
    if ((c & 0xf0) == 0x80) {
        return mp_container(m, b, c & 0x0f, 1, depth);
    }
    if ((c & 0xf0) == 0x90) {
        return mp_container(m, b, c & 0x0f, 0, depth);
    }
    if ((c & 0xe0) == 0xa0) {
        return mp_str(m, b, c & 0x1f);
    }
    switch (c) {
    case 0xc0: sb_put(b, "null", 4); return 0;
    case 0xc2: sb_put(b, "false", 5); return 0;
    case 0xc3: sb_put(b, "true", 4); return 0;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        if (mp_len(m, 1 << (c - 0xcc), &n) < 0) return -1;
        sb_printf(b, "%" PRIu64, n);
        return 0;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        int w = 1 << (c - 0xd0);
        int64_t v;
        if (mp_len(m, w, &n) < 0) return -1;
        if (w == 1) v = (int8_t) n;
        else if (w == 2) v = (int16_t) n;
        else if (w == 4) v = (int32_t) n;
        else v = (int64_t) n;
        sb_printf(b, "%" PRId64, v);
        return 0;
    }
    case 0xca: {
        uint32_t u;
        float f;
        if (mp_len(m, 4, &n) < 0) return -1;
        u = (uint32_t) n;
        memcpy(&f, &u, 4);
        sb_printf(b, "%.9g", (double) f);
        return 0;
    }
    case 0xcb: {
        double d;
        if (mp_len(m, 8, &n) < 0) return -1;
        memcpy(&d, &n, 8);
        if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
            sb_put(b, "null", 4);
        }
        else {
            sb_printf(b, "%.17g", d);
        }
        return 0;
    }
    case 0xd9: if (mp_len(m, 1, &n) < 0) return -1; return mp_str(m, b, n);
    case 0xda: if (mp_len(m, 2, &n) < 0) return -1; return mp_str(m, b, n);
    case 0xdb: if (mp_len(m, 4, &n) < 0) return -1; return mp_str(m, b, n);
    case 0xc4: case 0xc5: case 0xc6: /* bin: hex string */
        if (mp_len(m, 1 << (c - 0xc4), &n) < 0 || mp_need(m, n) < 0) return -1;
        sb_put(b, "\"bin:", 5);
        for (uint64_t i = 0; i < n; i++) sb_printf(b, "%02x", m->p[i]);
        sb_put(b, "\"", 1);
        m->p += n;
        return 0;
    case 0xdc: if (mp_len(m, 2, &n) < 0) return -1; return mp_container(m, b, n, 0, depth);
    case 0xdd: if (mp_len(m, 4, &n) < 0) return -1; return mp_container(m, b, n, 0, depth);
    case 0xde: if (mp_len(m, 2, &n) < 0) return -1; return mp_container(m, b, n, 1, depth);
    case 0xdf: if (mp_len(m, 4, &n) < 0) return -1; return mp_container(m, b, n, 1, depth);
    }
    m->err = "unsupported msgpack type (ext inside a record body)";
    return -1;
}

/* ingest plays input_chunk_append_raw: it checks the buffer and writes each
 * record as one NDJSON line, the harness's chunk. Called without H.mu. */
static void ingest(struct instance *ins, const void *data, size_t len)
{
    struct mp m = {data, (const uint8_t *) data + len, NULL};
    struct sbuf b = {0};
    long n = 0;
    const char *err = NULL;

    while (m.p < m.end) {
        uint32_t sec, nsec;
        if (*m.p != 0x92) {
            err = (*m.p & 0xf0) == 0x90 || *m.p == 0xdc || *m.p == 0xdd
                  ? "record is not a 2-element array (records wrapped in an outer array?)"
                  : "record is not an array";
            break;
        }
        m.p++;
        if (mp_need(&m, 10) < 0) {
            err = m.err;
            break;
        }
        if ((m.p[0] & 0xf0) == 0x90 || m.p[0] == 0xdc || m.p[0] == 0xdd) {
            err = "record's first element is an array: records wrapped in an outer array?";
            break;
        }
        if (m.p[0] != 0xd7 || m.p[1] != 0x00) {
            err = "record time is not an EventTime (fixext 8, type 0)";
            break;
        }
        m.p += 2;
        sec = (uint32_t) mp_be(&m, 4);
        nsec = (uint32_t) mp_be(&m, 4);
        if (nsec >= 1000000000u) {
            err = "EventTime nanoseconds out of range";
            break;
        }
        if (mp_need(&m, 1) < 0 || !((*m.p & 0xf0) == 0x80 || *m.p == 0xde || *m.p == 0xdf)) {
            err = "record body is not a map";
            break;
        }
        sb_printf(&b, "{\"instance\":%d,\"time\":", ins->idx);
        sb_printf(&b, "\"%u.%09u\",\"record\":", sec, nsec);
        if (mp_value(&m, &b, 0) < 0) {
            err = m.err;
            break;
        }
        sb_put(&b, "}\n", 2);
        n++;
    }

    pthread_mutex_lock(&H.mu);
    if (err != NULL) {
        violation("instance %d, record %ld of a %zu-byte buffer: %s", ins->idx, n, len, err);
    }
    else {
        if (b.len > 0) {
            fwrite(b.p, 1, b.len, H.out);
            fflush(H.out);
        }
        if (H.buffers_out != NULL) {
            fprintf(H.buffers_out, "{\"instance\":%d,\"bytes\":%zu,\"records\":%ld}\n", ins->idx, len, n);
            fflush(H.buffers_out);
        }
        H.records += n;
        ins->records += n;
        if (n > 0) {
            H.last_record_ms = now_ms();
        }
        pthread_cond_broadcast(&H.cond);
    }
    pthread_mutex_unlock(&H.mu);
    free(b.p);
}

/* ---- the ring buffer -------------------------------------------------------- */

/* rb_flush plays flb_input_chunk_ring_buffer_collector: everything queued
 * moves into the output. */
static void rb_flush(void)
{
    struct rb_entry *e, *next;

    pthread_mutex_lock(&RB.mu);
    e = RB.head;
    RB.head = RB.tail = NULL;
    pthread_mutex_unlock(&RB.mu);
    if (e != NULL) {
        pthread_mutex_lock(&H.mu);
        H.rb_flushes++;
        pthread_mutex_unlock(&H.mu);
    }
    for (; e != NULL; e = next) {
        next = e->next;
        ingest(e->ins, e->data, e->len);
        free(e->data);
        free(e);
    }
}

/* engine_thread plays the engine's ring buffer timer (FLB_DEV_RB_MS). */
static void *engine_thread(void *arg)
{
    (void) arg;
    for (;;) {
        struct timespec ts = {H.rb_ms / 1000, (long) (H.rb_ms % 1000) * 1000000L};
        int stop;
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&RB.mu);
        stop = RB.stop;
        pthread_mutex_unlock(&RB.mu);
        if (stop) {
            return NULL;
        }
        rb_flush();
    }
}

/* rb_discard plays flb_input_chunk_ring_buffer_cleanup at instance destroy:
 * what is still queued is dropped. */
static void rb_discard(void)
{
    struct rb_entry *e, *next;
    long n = 0;

    pthread_mutex_lock(&RB.mu);
    e = RB.head;
    RB.head = RB.tail = NULL;
    pthread_mutex_unlock(&RB.mu);
    for (; e != NULL; e = next) {
        next = e->next;
        n++;
        free(e->data);
        free(e);
    }
    pthread_mutex_lock(&H.mu);
    H.rb_discarded += n;
    pthread_mutex_unlock(&H.mu);
}

/* append plays flb_input_log_append from an instance thread: with a ring
 * buffer (threaded input) the buffer is copied into it; without, it is
 * written at once. The caller holds RB.mu when locked is set. */
static void append(struct instance *ins, const void *data, size_t len, int locked)
{
    struct rb_entry *e;

    if (H.rb_ms <= 0) {
        ingest(ins, data, len);
        return;
    }
    e = calloc(1, sizeof(*e));
    e->ins = ins;
    e->data = malloc(len);
    memcpy(e->data, data, len);
    e->len = len;
    if (!locked) {
        pthread_mutex_lock(&RB.mu);
    }
    if (RB.tail != NULL) {
        RB.tail->next = e;
    }
    else {
        RB.head = e;
    }
    RB.tail = e;
    if (!locked) {
        pthread_mutex_unlock(&RB.mu);
    }
}

/* ---- the proxy ------------------------------------------------------------- */

static void *remote_context(struct instance *ins)
{
    if (!H.abi41) {
        return NULL;
    }
    return ((struct flb_plugin_input_proxy_context *) ins->context)->remote_context;
}

/* collect plays flb_proxy_input_cb_collect + proxy_go_input_collect/cleanup. */
static void collect(struct instance *ins)
{
    struct flbgo_input_plugin *plugin = H.plugin;
    void *data = NULL;
    size_t len = 0;
    int ret, crash;
    long long t0, us;

    t0 = now_us();
    if (plugin->cb_collect_ctx) {
        ret = plugin->cb_collect_ctx(remote_context(ins), &data, &len);
    }
    else {
        ret = plugin->cb_collect(&data, &len);
    }
    us = now_us() - t0;

    pthread_mutex_lock(&H.mu);
    H.callbacks++;
    if (us > H.max_callback_us) {
        H.max_callback_us = us;
    }
    if (len == 0) {
        H.empty_callbacks++;
        if (data != NULL && H.abi41) {
            violation("instance %d: collect returned a buffer of size 0 (Fluent Bit >= 4.1 drops it without cleanup: a leak)", ins->idx);
        }
    }
    else {
        H.buffers++;
        ins->buffers++;
        H.bytes += (long) len;
        if ((long) len > H.max_buffer) {
            H.max_buffer = (long) len;
        }
        if (data == NULL) {
            violation("instance %d: collect returned size %zu with no buffer", ins->idx, len);
        }
    }
    if (ret == -1 && data != NULL) {
        violation("instance %d: collect returned -1 with a buffer (Fluent Bit neither appends nor frees it)", ins->idx);
    }
    pthread_mutex_unlock(&H.mu);

    if (H.abi41 && len == 0) {
        return; /* "No logs are ingested" */
    }
    if (ret == -1) {
        return;
    }
    pthread_mutex_lock(&H.mu);
    crash = H.crash_after > 0 && len > 0 && ++H.nonempty_collects == H.crash_after;
    pthread_mutex_unlock(&H.mu);
    if (crash) {
        /* Hold the ring buffer until the kill: the engine cannot move
         * this collect into the output. */
        pthread_mutex_lock(&RB.mu);
    }
    if (data != NULL && len > 0) {
        append(ins, data, len, crash);
    }

    if (plugin->cb_cleanup_ctx) {
        ret = plugin->cb_cleanup_ctx(remote_context(ins), data);
    }
    else if (plugin->cb_cleanup) {
        ret = plugin->cb_cleanup(data);
    }
    else {
        if (data != NULL) {
            free(data);
            pthread_mutex_lock(&H.mu);
            H.host_frees++;
            pthread_mutex_unlock(&H.mu);
        }
        if (crash) {
            hlog("crash after collect %ld: SIGKILL", H.crash_after);
            raise(SIGKILL);
        }
        return;
    }
    pthread_mutex_lock(&H.mu);
    if (data != NULL) {
        H.cleanups++;
        if (ret != 1) {
            violation("instance %d: cleanup of a buffer the plugin handed out returned %d", ins->idx, ret);
        }
    }
    pthread_mutex_unlock(&H.mu);
    if (crash) {
        hlog("crash after collect %ld: SIGKILL", H.crash_after);
        raise(SIGKILL);
    }
}

/* instance_thread plays input_thread(): init, wait for the go, collect on the
 * timer until told to stop, then the exit callback, from this thread. */
static void *instance_thread(void *arg)
{
    struct instance *ins = arg;
    struct flbgo_input_plugin *plugin = H.plugin;
    void (*cb_pause)(void) = (void (*)(void)) dlsym(H.dso, "FLBPluginInputPause");
    long long next;
    int ret;

    host_thread = 1;

    /* flb_proxy_input_cb_init + proxy_go_input_init */
    H.proxy->instance = ins;
    plugin->api = H.proxy->api;
    plugin->i_ins = H.proxy->instance;
    plugin->context = ins->context;
    ret = plugin->cb_init(plugin);

    pthread_mutex_lock(&H.mu);
    ins->init_status = ret > 0 ? 1 : -1;
    /* The plugin may set remote_context (>= 4.1) and nothing else. */
    if (H.abi41) {
        struct flb_plugin_input_proxy_context *c = ins->context;
        if (c->proxy != H.proxy || c->coll_fd != 0) {
            violation("instance %d: init overwrote the proxy context", ins->idx);
        }
        ins->remote_context_set = c->remote_context != NULL;
    }
    else {
        struct flb_plugin_input_proxy_context_20 *c = ins->context;
        if (c->proxy != H.proxy || c->coll_fd != 0) {
            violation("instance %d: init wrote into a pre-4.1 proxy context", ins->idx);
        }
    }
    pthread_cond_broadcast(&H.cond);
    if (ret <= 0) {
        pthread_mutex_unlock(&H.mu);
        hlog("[go proxy]: plugin '%s' failed to initialize (instance %d)", plugin->name, ins->idx);
        return NULL;
    }
    while (!H.start_collect && !H.stop) {
        pthread_cond_wait(&H.cond, &H.mu);
    }
    pthread_mutex_unlock(&H.mu);

    next = now_ms() + H.interval_ms;
    for (;;) {
        int stop;
        long long t;
        pthread_mutex_lock(&H.mu);
        stop = H.stop || H.ingest_stop;
        pthread_mutex_unlock(&H.mu);
        if (stop) {
            break;
        }
        t = now_ms();
        if (t < next) {
            long long d = next - t;
            struct timespec ts;
            if (d > 20) {
                d = 20;
            }
            ts.tv_sec = 0;
            ts.tv_nsec = (long) d * 1000000L;
            nanosleep(&ts, NULL);
            continue;
        }
        collect(ins);
        next += H.interval_ms;
        if (next < now_ms()) {
            next = now_ms() + H.interval_ms;
        }
    }

    /* flb_engine_stop_ingestion -> flb_input_pause_all: the instance's
     * thread pauses its collector and calls FLBPluginInputPause (2.2+). */
    if (cb_pause != NULL) {
        cb_pause();
        pthread_mutex_lock(&H.mu);
        H.pauses++;
        pthread_mutex_unlock(&H.mu);
    }
    pthread_mutex_lock(&H.mu);
    H.paused_now++;
    while (!H.stop) {
        pthread_cond_wait(&H.cond, &H.mu);
    }
    pthread_mutex_unlock(&H.mu);

    /* flb_proxy_input_cb_exit -> proxy_go_input_destroy: cb_exit(), no ctx */
    if (!H.exit_from_main && plugin->cb_exit) {
        plugin->cb_exit();
    }
    return NULL;
}

static void *sym(const char *name)
{
    void *s;
    dlerror();
    s = dlsym(H.dso, name);
    if (dlerror() != NULL) {
        return NULL;
    }
    return s;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fbharness -so PATH [-abi 4.1|2.1] [-interval-ms N] [-out FILE|-] [-stats FILE] [-buffers FILE]\n"
            "                 [-records N] [-timeout-ms T] [-duration-ms D] [-idle-ms I]\n"
            "                 [-no-cleanup] [-exit-from-main] [-rb-ms R] [-grace-ms G]\n"
            "                 [-crash-after-buffers N] [-no-metrics-api] [-reloads N -reload-ms M]\n"
            "                 [-instance] -p key=value ...\n");
    exit(1);
}

static struct instance *new_instance(void)
{
    struct instance *ins;
    H.ins = realloc(H.ins, sizeof(struct instance) * (size_t) (H.nins + 1));
    ins = &H.ins[H.nins];
    memset(ins, 0, sizeof(*ins));
    ins->idx = H.nins;
    ins->log_level = 3; /* info, Fluent Bit's default */
    H.nins++;
    return ins;
}

static void write_stats(int init_failed)
{
    FILE *f;
    int i;

    if (H.stats_path == NULL) {
        return;
    }
    f = fopen(H.stats_path, "w");
    if (f == NULL) {
        hlog("cannot write %s: %s", H.stats_path, strerror(errno));
        return;
    }
    fprintf(f, "{\"records\":%ld,\"callbacks\":%ld,\"empty_callbacks\":%ld,\"buffers\":%ld,"
               "\"bytes\":%ld,\"max_buffer\":%ld,\"cleanups\":%ld,\"host_frees\":%ld,"
               "\"max_callback_us\":%ld,\"init_failed\":%s,\"violations\":%d,"
               "\"pauses\":%ld,\"reloads\":%d,\"rb_flushes\":%ld,\"rb_discarded\":%ld,"
               "\"logs\":{\"error\":%ld,\"warn\":%ld,\"info\":%ld,\"debug\":%ld,\"trace\":%ld},"
               "\"logs_off_thread\":%ld,\"metrics\":[",
            H.records, H.callbacks, H.empty_callbacks, H.buffers, H.bytes, H.max_buffer,
            H.cleanups, H.host_frees, H.max_callback_us, init_failed ? "true" : "false",
            H.nviolations, H.pauses, H.reloads_done, H.rb_flushes, H.rb_discarded,
            H.logs[1], H.logs[2], H.logs[3], H.logs[4], H.logs[5], H.logs_off_thread);
    for (i = 0; i < H.nmetrics; i++) {
        struct hmetric *m = &H.metrics[i];
        fprintf(f, "%s{\"instance\":%d,\"name\":\"%s\",\"type\":\"%s\",\"label\":\"%s\",\"value\":%.17g,"
                   "\"sets\":%ld,\"off_thread_sets\":%ld}",
                i ? "," : "", m->instance, m->name, m->gauge ? "gauge" : "counter", m->label, m->value,
                m->sets, m->off_thread_sets);
    }
    fprintf(f, "],\"instances\":[");
    for (i = 0; i < H.nins; i++) {
        fprintf(f, "%s{\"records\":%ld,\"buffers\":%ld,\"init\":%d,\"remote_context\":%s}", i ? "," : "",
                H.ins[i].records, H.ins[i].buffers, H.ins[i].init_status,
                H.ins[i].remote_context_set ? "true" : "false");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

/* proxy_load plays flb_plugin_proxy_create, flb_plugin_proxy_register and
 * proxy_go_input_register: dlopen (again, at a reload: the same library),
 * FLBPluginRegister on a new definition, the Go callbacks looked up. */
static int proxy_load(struct flb_plugin_proxy **proxyp, struct flbgo_input_plugin **pluginp)
{
    int (*cb_register)(struct flb_plugin_proxy_def *);
    struct flb_plugin_proxy *proxy;
    struct flbgo_input_plugin *plugin;
    struct flb_api *api;

    H.dso = dlopen(H.so_path, RTLD_LAZY);
    if (H.dso == NULL) {
        hlog("[proxy] error opening plugin %s: '%s'", H.so_path, dlerror());
        return 1;
    }
    proxy = calloc(1, sizeof(struct flb_plugin_proxy));
    api = calloc(1, sizeof(struct flb_api));
    api->output_get_property = api_unused_get_property;
    api->input_get_property = api_input_get_property;
    api->input_log_check = api_input_log_check;
    api->log_print = api_log_print;
    if (!H.no_metrics_api) {
        api->input_get_cmt_instance = flb_input_get_cmt_instance;
    }
    api->output_log_check = api_unused_log_check;
    api->custom_get_property = api_unused_get_property;
    api->custom_log_check = api_unused_log_check;
    proxy->api = api;
    proxy->def = calloc(1, sizeof(struct flb_plugin_proxy_def));
    proxy->def->type = FLB_PROXY_INPUT_PLUGIN;
    proxy->dso_handler = H.dso;
    *proxyp = proxy;

    cb_register = (int (*)(struct flb_plugin_proxy_def *)) sym("FLBPluginRegister");
    if (cb_register == NULL || cb_register(proxy->def) == -1) {
        hlog("FLBPluginRegister missing or failed");
        return 1;
    }
    if (proxy->def->type != FLB_PROXY_INPUT_PLUGIN || proxy->def->proxy != FLB_PROXY_GOLANG ||
        proxy->def->name == NULL) {
        hlog("FLBPluginRegister did not register a Go input (type %d, proxy %d)",
             proxy->def->type, proxy->def->proxy);
        return 1;
    }

    plugin = calloc(1, sizeof(struct flbgo_input_plugin));
    *pluginp = plugin;
    plugin->cb_init = (int (*)(struct flbgo_input_plugin *)) sym("FLBPluginInit");
    if (plugin->cb_init == NULL) {
        hlog("[go proxy]: could not load FLBPluginInit symbol");
        return 1;
    }
    plugin->cb_collect = (int (*)(void **, size_t *)) sym("FLBPluginInputCallback");
    if (!H.no_cleanup) {
        plugin->cb_cleanup = (int (*)(void *)) sym("FLBPluginInputCleanupCallback");
    }
    if (H.abi41) {
        plugin->cb_collect_ctx = (int (*)(void *, void **, size_t *)) sym("FLBPluginInputCallbackCtx");
        if (!H.no_cleanup) {
            plugin->cb_cleanup_ctx = (int (*)(void *, void *)) sym("FLBPluginInputCleanupCallbackCtx");
        }
    }
    if (plugin->cb_collect == NULL && plugin->cb_collect_ctx == NULL) {
        hlog("no collect callback exported");
        return 1;
    }
    plugin->cb_exit = (int (*)(void)) sym("FLBPluginExit");
    plugin->name = strdup(proxy->def->name);
    proxy->data = plugin;
    return 0;
}

/* proxy_unload plays flb_proxy_input_cb_destroy: FLBPluginUnregister on the
 * definition, then dlclose of its handle. */
static void proxy_unload(struct flb_plugin_proxy *proxy, struct flbgo_input_plugin *plugin)
{
    void (*cb_unregister)(struct flb_plugin_proxy_def *);

    cb_unregister = (void (*)(struct flb_plugin_proxy_def *)) sym("FLBPluginUnregister");
    if (cb_unregister != NULL) {
        cb_unregister(proxy->def);
    }
    free(plugin->name);
    free(plugin);
    free(proxy->def);
    free(proxy->api);
    dlclose(proxy->dso_handler);
    free(proxy);
}

/* start_instances plays flb_input_new + flb_input_instance_init, one
 * instance at a time: each inits on a thread of its own while the main
 * thread waits. It returns 1 when an init failed. */
static int start_instances(void)
{
    int i, j;

    for (i = 0; i < H.nins; i++) {
        struct instance *ins = &H.ins[i];
        if (H.abi41) {
            struct flb_plugin_input_proxy_context *ctx = calloc(1, sizeof(*ctx));
            ctx->proxy = H.proxy;
            ins->context = ctx;
        }
        else {
            struct flb_plugin_input_proxy_context_20 *ctx = calloc(1, sizeof(*ctx));
            ctx->proxy = H.proxy;
            ins->context = ctx;
        }
        pthread_create(&ins->th, NULL, instance_thread, ins);
        ins->started = 1;
        pthread_mutex_lock(&H.mu);
        while (ins->init_status == 0) {
            pthread_cond_wait(&H.cond, &H.mu);
        }
        pthread_mutex_unlock(&H.mu);
        if (ins->init_status < 0) {
            return 1;
        }
    }
    pthread_mutex_lock(&H.mu);
    for (i = 0; H.abi41 && i < H.nins; i++) {
        for (j = 0; j < i && H.ins[i].context != NULL; j++) {
            void *a = ((struct flb_plugin_input_proxy_context *) H.ins[i].context)->remote_context;
            void *b = ((struct flb_plugin_input_proxy_context *) H.ins[j].context)->remote_context;
            if (a != NULL && a == b) {
                violation("instances %d and %d got the same remote_context", j, i);
            }
        }
    }
    pthread_mutex_unlock(&H.mu);
    return 0;
}

/* stop_instances stops ingestion (each instance pauses on its thread), lets
 * the engine move the ring buffers for grace_ms (-1: until they are empty,
 * as a reload does), then has each instance exit on its thread. */
static void stop_instances(long grace_ms)
{
    int i;

    pthread_mutex_lock(&H.mu);
    H.ingest_stop = 1;
    pthread_cond_broadcast(&H.cond);
    pthread_mutex_unlock(&H.mu);
    if (H.rb_ms > 0 && grace_ms > 0) {
        struct timespec ts = {grace_ms / 1000, (grace_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    while (H.rb_ms > 0 && grace_ms < 0) {
        struct timespec ts = {0, 10 * 1000000L};
        int empty;
        /* Collects end at their next turn: wait for every instance's pause
         * before taking an empty ring buffer for the last word. */
        pthread_mutex_lock(&H.mu);
        empty = H.paused_now == H.nins;
        pthread_mutex_unlock(&H.mu);
        pthread_mutex_lock(&RB.mu);
        empty = empty && RB.head == NULL;
        pthread_mutex_unlock(&RB.mu);
        if (empty) {
            break;
        }
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&H.mu);
    H.stop = 1;
    pthread_cond_broadcast(&H.cond);
    pthread_mutex_unlock(&H.mu);
    for (i = 0; i < H.nins; i++) {
        if (H.ins[i].started) {
            pthread_join(H.ins[i].th, NULL);
        }
    }
    pthread_mutex_lock(&H.mu);
    H.paused_now = 0;
    pthread_mutex_unlock(&H.mu);
}

int main(int argc, char **argv)
{
    struct instance *cur = NULL;
    int i, cycle, init_failed = 0, code = 0;
    long long start;

    H.abi41 = 1;
    H.interval_ms = 1000;
    H.rb_ms = 250;
    H.grace_ms = 1000;
    host_thread = 1; /* Fluent Bit's main thread logs through its logger too */
    H.out_path = "-";
    H.timeout_ms = 60000;
    pthread_mutex_init(&H.mu, NULL);
    pthread_cond_init(&H.cond, NULL);

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-instance") == 0) {
            cur = new_instance();
            continue;
        }
        if (strcmp(a, "-no-cleanup") == 0) {
            H.no_cleanup = 1;
            continue;
        }
        if (strcmp(a, "-exit-from-main") == 0) {
            H.exit_from_main = 1;
            continue;
        }
        if (strcmp(a, "-no-metrics-api") == 0) {
            H.no_metrics_api = 1;
            continue;
        }
        if (v == NULL) {
            usage();
        }
        i++;
        if (strcmp(a, "-so") == 0) H.so_path = v;
        else if (strcmp(a, "-abi") == 0) {
            if (strcmp(v, "4.1") == 0) H.abi41 = 1;
            else if (strcmp(v, "2.1") == 0) H.abi41 = 0;
            else usage();
        }
        else if (strcmp(a, "-interval-ms") == 0) H.interval_ms = atoi(v);
        else if (strcmp(a, "-out") == 0) H.out_path = v;
        else if (strcmp(a, "-stats") == 0) H.stats_path = v;
        else if (strcmp(a, "-buffers") == 0) H.buffers_path = v;
        else if (strcmp(a, "-records") == 0) H.target = atol(v);
        else if (strcmp(a, "-timeout-ms") == 0) H.timeout_ms = atol(v);
        else if (strcmp(a, "-duration-ms") == 0) H.duration_ms = atol(v);
        else if (strcmp(a, "-idle-ms") == 0) H.idle_ms = atol(v);
        else if (strcmp(a, "-rb-ms") == 0) H.rb_ms = atoi(v);
        else if (strcmp(a, "-grace-ms") == 0) H.grace_ms = atol(v);
        else if (strcmp(a, "-crash-after-buffers") == 0) H.crash_after = atol(v);
        else if (strcmp(a, "-reloads") == 0) H.reloads = atoi(v);
        else if (strcmp(a, "-reload-ms") == 0) H.reload_ms = atol(v);
        else if (strcmp(a, "-p") == 0) {
            if (cur == NULL) {
                cur = new_instance();
            }
            add_prop(cur, v);
        }
        else usage();
    }
    if (H.so_path == NULL || H.nins == 0 || H.interval_ms <= 0 || (H.reloads > 0 && (H.reload_ms <= 0 || H.exit_from_main))) {
        usage();
    }
    H.out = strcmp(H.out_path, "-") == 0 ? stdout : fopen(H.out_path, "w");
    if (H.out == NULL) {
        hlog("cannot open %s: %s", H.out_path, strerror(errno));
        return 1;
    }

    if (H.buffers_path != NULL && (H.buffers_out = fopen(H.buffers_path, "w")) == NULL) {
        hlog("cannot open %s: %s", H.buffers_path, strerror(errno));
        return 1;
    }

    /* flb_plugin_proxy_create */
    {
        /* Before the Go runtime loads, as Fluent Bit sets its handlers
         * before loading plugins. SA_ONSTACK: the signal may land on a Go
         * thread, whose stack is small (Go's rule for non-Go handlers). */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sa.sa_flags = SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    if (proxy_load(&H.proxy, &H.plugin) != 0) {
        return 1;
    }
    hlog("loaded %s: plugin '%s' (%s), abi %s%s", H.so_path, H.plugin->name,
         H.proxy->def->description ? H.proxy->def->description : "", H.abi41 ? "4.1" : "2.1",
         H.no_cleanup ? ", no cleanup callback" : "");

    if (H.rb_ms > 0) {
        pthread_create(&RB.th, NULL, engine_thread, NULL);
    }

    start = now_ms();
    for (cycle = 0;; cycle++) {
        long long cycle_start = now_ms();
        int reload = 0;

        init_failed = start_instances();
        pthread_mutex_lock(&H.mu);
        if (init_failed) {
            H.stop = 1;
        }
        H.start_collect = 1;
        pthread_cond_broadcast(&H.cond);
        while (!H.stop) {
            struct timespec ts;
            long long t = now_ms();
            if (term) {
                hlog("signal %d: stopping", (int) term);
                break;
            }
            if (H.target > 0 && H.records >= H.target) break;
            if (H.duration_ms > 0 && t - start >= H.duration_ms) break;
            if (H.idle_ms > 0 && H.records > 0 && t - H.last_record_ms >= H.idle_ms) break;
            if (t - start >= H.timeout_ms) {
                if (H.target > 0) {
                    hlog("timeout: %ld of %ld records after %ld ms", H.records, H.target, H.timeout_ms);
                    code = 4;
                }
                break;
            }
            if (cycle < H.reloads && t - cycle_start >= H.reload_ms) {
                reload = 1;
                break;
            }
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&H.cond, &H.mu, &ts);
        }
        pthread_mutex_unlock(&H.mu);
        if (!reload) {
            break;
        }
        /* flb_reload: the new configuration is loaded, and the plugin
         * registered again on the main thread, while the old instances still
         * collect; then the old context stops with grace -1 (every ring
         * buffer moved out), its instances exit on their threads, the old
         * definition is unregistered and its handle closed (the library
         * stays: the new handle holds it), and the new instances start. */
        pthread_mutex_lock(&H.mu);
        hlog("reload %d at %ld records", cycle + 1, H.records);
        pthread_mutex_unlock(&H.mu);
        {
            struct flb_plugin_proxy *np;
            struct flbgo_input_plugin *npl;
            if (proxy_load(&np, &npl) != 0) {
                code = 1;
                break;
            }
            stop_instances(-1);
            proxy_unload(H.proxy, H.plugin);
            H.proxy = np;
            H.plugin = npl;
        }
        pthread_mutex_lock(&H.mu);
        H.stop = H.ingest_stop = H.start_collect = 0;
        H.nmetrics = 0; /* a new instance has a new cmetrics context */
        for (i = 0; i < H.nins; i++) {
            free(H.ins[i].context);
            H.ins[i].context = NULL;
            H.ins[i].started = H.ins[i].init_status = H.ins[i].remote_context_set = 0;
        }
        H.reloads_done++;
        pthread_mutex_unlock(&H.mu);
    }
    /* Shut down as Fluent Bit does: stop ingestion (each instance pauses
     * on its thread), give the engine the grace period to move the ring
     * buffers into chunks, then exit the instances. */
    stop_instances(init_failed ? 0 : H.grace_ms);
    if (H.rb_ms > 0) {
        pthread_mutex_lock(&RB.mu);
        RB.stop = 1;
        pthread_mutex_unlock(&RB.mu);
        pthread_join(RB.th, NULL);
    }
    rb_discard();
    if (H.exit_from_main && H.plugin->cb_exit) {
        H.plugin->cb_exit();
    }
    proxy_unload(H.proxy, H.plugin);

    hlog("records=%ld callbacks=%ld buffers=%ld bytes=%ld cleanups=%ld host_frees=%ld max_callback_us=%ld "
         "rb_discarded=%ld violations=%d",
         H.records, H.callbacks, H.buffers, H.bytes, H.cleanups, H.host_frees, H.max_callback_us,
         H.rb_discarded, H.nviolations);
    write_stats(init_failed);
    if (H.out != stdout) {
        fclose(H.out);
    }
    if (H.buffers_out != NULL) {
        fclose(H.buffers_out);
    }
    for (i = 0; i < H.nins; i++) {
        int j;
        for (j = 0; j < H.ins[i].nprops; j++) {
            free(H.ins[i].props[j].key);
            free(H.ins[i].props[j].val);
        }
        free(H.ins[i].props);
        free(H.ins[i].context);
    }
    free(H.ins);

    if (init_failed) {
        hlog("failed initialize input %s", "auditpull");
        return 2;
    }
    if (H.nviolations > 0) {
        return 3;
    }
    return code;
}
