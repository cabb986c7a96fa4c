// SPDX-License-Identifier: MIT
#include "json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define XF_JSON_MAX_DEPTH 64
#define XF_JSON_BLOCK (64u * 1024u)

typedef struct block_s {
    struct block_s* next;
    size_t used, size;
    max_align_t data[];
} block_t;

struct xf_json_doc_s {
    xf_json_alloc_t alloc;
    block_t* blocks;
    xf_json_t root;
};

typedef struct parser_s {
    xf_json_doc_t* doc;
    const char* p;
    const char* begin;
    const char* end;
    int depth;
    xf_status_t status;
    char* err;
    size_t err_size;
    size_t err_pos;
} parser_t;

// By default documents take the memory of the context at work (xf_alloc_use).
static void* default_alloc(void* user, size_t size) {
    (void)user;
    return xf_malloc(size);
}

static void default_free(void* user, void* ptr) {
    (void)user;
    xf_free(ptr);
}

// Memory that lives as long as the document; NULL (and the status set) when the allocator fails.
static void* arena(parser_t* ps, size_t size) {
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    block_t* b = ps->doc->blocks;
    if (!b || b->size - b->used < size) {
        size_t want = size > XF_JSON_BLOCK ? size : XF_JSON_BLOCK;
        if (want > SIZE_MAX - sizeof(block_t)) b = NULL;
        else b = ps->doc->alloc.alloc(ps->doc->alloc.user_data, sizeof(block_t) + want);
        if (!b) {
            ps->status = XF_ERR_OUT_OF_MEMORY;
            snprintf(ps->err, ps->err_size, "out of memory parsing JSON");
            return NULL;
        }
        b->used = 0;
        b->size = want;
        // A large block goes behind the current one so the current one's free space is kept.
        if (ps->doc->blocks && want == size) {
            b->next = ps->doc->blocks->next;
            ps->doc->blocks->next = b;
        } else {
            b->next = ps->doc->blocks;
            ps->doc->blocks = b;
        }
    }
    void* out = (char*)b->data + b->used;
    b->used += size;
    return out;
}

static bool fail(parser_t* ps, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(parser_t* ps, const char* fmt, ...) {
    if (ps->status != XF_OK) return false;
    ps->status = XF_ERR_DATA_LOSS;
    ps->err_pos = (size_t)(ps->p - ps->begin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->err_size, fmt, ap);
    va_end(ap);
    return false;
}

static void skip_space(parser_t* ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static bool literal(parser_t* ps, const char* word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return fail(ps, "invalid literal");
    ps->p += n;
    return true;
}

static int hex4(const char* s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

// Length of the well-formed UTF-8 sequence at |s| (at most |n| bytes), or 0.
static size_t utf8_length(const unsigned char* s, size_t n) {
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;
    if (len == 0 || len > n) return 0;
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    unsigned lo = s[0] == 0xe0 ? 0xa0 : s[0] == 0xf0 ? 0x90 : 0x80;
    unsigned hi = s[0] == 0xed ? 0x9f : s[0] == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

static size_t put_utf8(char* out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

// Parses a string at the opening quote. Decoded text is never longer than its source.
static bool parse_string(parser_t* ps, const char** out, size_t* out_len) {
    const char* start = ++ps->p;
    const char* q = start;
    while (q < ps->end && *q != '"') q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
    if (q >= ps->end) return fail(ps, "unterminated string");
    char* s = arena(ps, (size_t)(q - start) + 1);
    if (!s) return false;
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) return fail(ps, "control character in a string");
        if (c >= 0x80) {
            size_t len = utf8_length((const unsigned char*)ps->p, (size_t)(ps->end - ps->p));
            if (!len) return fail(ps, "invalid UTF-8 in a string");
            memcpy(s + n, ps->p, len);
            n += len;
            ps->p += len;
            continue;
        }
        if (c != '\\') {
            s[n++] = (char)c;
            ps->p++;
            continue;
        }
        char e = ps->p[1];
        ps->p += 2;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char* k = e ? strchr(from, e) : NULL;
        if (k) {
            s[n++] = to[k - from];
            continue;
        }
        if (e != 'u' || ps->end - ps->p < 4) return fail(ps, "invalid escape in a string");
        int cp = hex4(ps->p);
        if (cp < 0) return fail(ps, "invalid \\u escape");
        ps->p += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff) return fail(ps, "unpaired surrogate in a string");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int lo = ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' ? hex4(ps->p + 2) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) return fail(ps, "unpaired surrogate in a string");
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        n += put_utf8(s + n, (unsigned)cp);
    }
    ps->p++;
    s[n] = '\0';
    *out = s;
    *out_len = n;
    return true;
}

static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;
static void make_c_numeric(void) { c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static bool parse_number(parser_t* ps, xf_json_t* v) {
    const char* s = ps->p;
    const char* q = s;
    if (q < ps->end && *q == '-') q++;
    if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "invalid number");
    if (*q == '0') q++;
    else while (q < ps->end && *q >= '0' && *q <= '9') q++;
    bool integer = true;
    if (q < ps->end && *q == '.') {
        integer = false;
        if (++q >= ps->end || *q < '0' || *q > '9') return fail(ps, "invalid number");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integer = false;
        if (++q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "invalid number");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    char buf[64];
    size_t n = (size_t)(q - s);
    ps->p = q;
    if (integer && n < 21) {
        // Exact: accumulate negatively so INT64_MIN fits.
        const char* d = s + (*s == '-');
        int64_t x = 0;
        bool fits = true;
        for (; d < q && fits; d++) {
            int digit = *d - '0';
            fits = x >= (INT64_MIN + digit) / 10;
            if (fits) x = x * 10 - digit;
        }
        if (fits && (*s == '-' || x != INT64_MIN)) {
            v->type = XF_JSON_INT;
            v->u.i = *s == '-' ? x : -x;
            return true;
        }
    }
    // Past 63 characters only the digits' precision is lost, as doubles hold 17 of them anyway.
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    pthread_once(&c_numeric_once, make_c_numeric);
    locale_t old = c_numeric ? uselocale(c_numeric) : (locale_t)0;
    double d = strtod(buf, NULL);
    if (c_numeric) uselocale(old);
    if (!isfinite(d)) return fail(ps, "number out of range");
    v->type = XF_JSON_REAL;
    v->u.d = d;
    return true;
}

static bool parse_value(parser_t* ps, xf_json_t* v);

static int by_key(const void* a, const void* b) {
    return strcmp(((const xf_json_member_t*)a)->key, ((const xf_json_member_t*)b)->key);
}

// Containers collect their children in an arena vector that doubles; the old vectors stay in the arena
// (at most as much again).
static void* grow(parser_t* ps, void* old, size_t count, size_t* cap, size_t elem) {
    if (count < *cap) return old;
    size_t next = *cap ? 2 * *cap : 4;
    if (next > SIZE_MAX / elem) return fail(ps, "too many elements"), NULL;
    void* p = arena(ps, next * elem);
    if (p && count) memcpy(p, old, count * elem);
    *cap = next;
    return p;
}

static bool parse_array(parser_t* ps, xf_json_t* v) {
    ps->p++;
    xf_json_t* items = NULL;
    size_t n = 0, cap = 0;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            if (!(items = grow(ps, items, n, &cap, sizeof *items)) || !parse_value(ps, &items[n])) return false;
            n++;
            skip_space(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            return fail(ps, "expected ',' or ']' in an array");
        }
    }
    v->type = XF_JSON_ARRAY;
    v->count = n;
    v->u.items = items;
    return true;
}

static bool parse_object(parser_t* ps, xf_json_t* v) {
    ps->p++;
    xf_json_member_t* members = NULL;
    size_t n = 0, cap = 0;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key in an object");
            if (!(members = grow(ps, members, n, &cap, sizeof *members))) return false;
            size_t key_len;
            if (!parse_string(ps, &members[n].key, &key_len)) return false;
            if (strlen(members[n].key) != key_len) return fail(ps, "NUL character in an object key");
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':' after an object key");
            ps->p++;
            if (!parse_value(ps, &members[n].value)) return false;
            n++;
            skip_space(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return fail(ps, "expected ',' or '}' in an object");
        }
    }
    // Duplicate keys, found on a sorted copy (n log n: headers have many thousand members).
    if (n > 1) {
        xf_json_member_t* sorted = arena(ps, n * sizeof *sorted);
        if (!sorted) return false;
        memcpy(sorted, members, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, by_key);
        for (size_t i = 1; i < n; i++) {
            if (strcmp(sorted[i - 1].key, sorted[i].key) == 0) {
                fail(ps, "duplicate key '%.200s' in an object", sorted[i].key);
                return false;
            }
        }
    }
    v->type = XF_JSON_OBJECT;
    v->count = n;
    v->u.members = members;
    return true;
}

static bool parse_value(parser_t* ps, xf_json_t* v) {
    memset(v, 0, sizeof *v);
    skip_space(ps);
    if (ps->p >= ps->end) return fail(ps, "unexpected end of the text");
    if (++ps->depth > XF_JSON_MAX_DEPTH) return fail(ps, "nested deeper than %d levels", XF_JSON_MAX_DEPTH);
    bool ok;
    switch (*ps->p) {
        case '{': ok = parse_object(ps, v); break;
        case '[': ok = parse_array(ps, v); break;
        case '"':
            v->type = XF_JSON_STRING;
            ok = parse_string(ps, &v->u.s, &v->count);
            break;
        case 't':
            v->type = XF_JSON_BOOL;
            v->u.b = true;
            ok = literal(ps, "true");
            break;
        case 'f':
            v->type = XF_JSON_BOOL;
            ok = literal(ps, "false");
            break;
        case 'n':
            v->type = XF_JSON_NULL;
            ok = literal(ps, "null");
            break;
        default:
            if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) ok = parse_number(ps, v);
            else ok = fail(ps, "expected a value");
            break;
    }
    ps->depth--;
    return ok;
}

xf_status_t xf_json_parse(const xf_json_alloc_t* alloc, const char* text, size_t len, xf_json_doc_t** out_doc,
                          size_t* err_pos, char* err, size_t err_size) {
    *out_doc = NULL;
    *err_pos = 0;
    xf_json_alloc_t a = alloc && alloc->alloc && alloc->free ? *alloc
                                                             : (xf_json_alloc_t){default_alloc, default_free, NULL};
    xf_json_doc_t* doc = a.alloc(a.user_data, sizeof *doc);
    if (!doc) {
        snprintf(err, err_size, "out of memory parsing JSON");
        return XF_ERR_OUT_OF_MEMORY;
    }
    memset(doc, 0, sizeof *doc);
    doc->alloc = a;
    parser_t ps = {doc, text, text, text + len, 0, XF_OK, err, err_size, 0};
    if (parse_value(&ps, &doc->root)) {
        skip_space(&ps);
        if (ps.p != ps.end) fail(&ps, "unexpected text after the JSON value");
    }
    if (ps.status != XF_OK) {
        *err_pos = ps.err_pos;
        xf_json_free(doc);
        return ps.status;
    }
    *out_doc = doc;
    return XF_OK;
}

void xf_json_free(xf_json_doc_t* doc) {
    if (!doc) return;
    for (block_t* b = doc->blocks; b;) {
        block_t* next = b->next;
        doc->alloc.free(doc->alloc.user_data, b);
        b = next;
    }
    doc->alloc.free(doc->alloc.user_data, doc);
}

const xf_json_t* xf_json_root(const xf_json_doc_t* doc) { return doc ? &doc->root : NULL; }

const xf_json_t* xf_json_get(const xf_json_t* obj, const char* key) {
    if (!obj || obj->type != XF_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++) {
        if (strcmp(obj->u.members[i].key, key) == 0) return &obj->u.members[i].value;
    }
    return NULL;
}

bool xf_json_number(const xf_json_t* v, double* out) {
    if (!v || (v->type != XF_JSON_INT && v->type != XF_JSON_REAL)) return false;
    *out = v->type == XF_JSON_INT ? (double)v->u.i : v->u.d;
    return true;
}

const char* xf_json_type_name(const xf_json_t* v) {
    static const char* const names[] = {"null", "a boolean", "an integer", "a number",
                                        "a string", "an array", "an object"};
    return v ? names[v->type] : "missing";
}

typedef struct snippet_s {
    char* buf;
    size_t size, n;
} snippet_t;

static void put(snippet_t* s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(snippet_t* s, const char* fmt, ...) {
    if (s->n >= s->size) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(s->buf + s->n, s->size - s->n, fmt, ap);
    va_end(ap);
    s->n += w > 0 ? (size_t)w : 0;
}

static void snippet(snippet_t* s, const xf_json_t* v, int depth) {
    if (s->n >= s->size) return;
    switch (v->type) {
        case XF_JSON_NULL: put(s, "null"); break;
        case XF_JSON_BOOL: put(s, v->u.b ? "true" : "false"); break;
        case XF_JSON_INT: put(s, "%lld", (long long)v->u.i); break;
        case XF_JSON_REAL: put(s, "%.17g", v->u.d); break;
        case XF_JSON_STRING: put(s, "\"%.*s\"", (int)(v->count < 200 ? v->count : 200), v->u.s); break;
        case XF_JSON_ARRAY:
            put(s, "[");
            for (size_t i = 0; i < v->count && depth < 8 && s->n < s->size; i++) {
                if (i) put(s, ",");
                snippet(s, &v->u.items[i], depth + 1);
            }
            put(s, "]");
            break;
        case XF_JSON_OBJECT:
            put(s, "{");
            for (size_t i = 0; i < v->count && depth < 8 && s->n < s->size; i++) {
                put(s, "%s\"%.200s\":", i ? "," : "", v->u.members[i].key);
                snippet(s, &v->u.members[i].value, depth + 1);
            }
            put(s, "}");
            break;
    }
}

void xf_json_snippet(const xf_json_t* v, char* buf, size_t size) {
    if (!size) return;
    buf[0] = '\0';
    if (!v) return;
    snippet_t s = {buf, size, 0};
    snippet(&s, v, 0);
    if (s.n >= size && size > 4) memcpy(buf + size - 4, "...", 4);
}

// Appends |n| bytes, counting what does not fit.
static void emit(snippet_t* s, const char* p, size_t n) {
    if (s->n < s->size) memcpy(s->buf + s->n, p, s->n + n <= s->size ? n : s->size - s->n);
    s->n += n;
}

static void write_string(snippet_t* s, const char* p, size_t len) {
    emit(s, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            emit(s, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            emit(s, esc, 6);
        } else {
            emit(s, (const char*)&p[i], 1);
        }
    }
    emit(s, "\"", 1);
}

static void write_value(snippet_t* s, const xf_json_t* v) {
    char num[40];
    switch (v->type) {
        case XF_JSON_NULL: emit(s, "null", 4); break;
        case XF_JSON_BOOL: emit(s, v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
        case XF_JSON_INT: emit(s, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->u.i)); break;
        case XF_JSON_REAL: emit(s, num, (size_t)snprintf(num, sizeof num, "%.17g", v->u.d)); break;
        case XF_JSON_STRING: write_string(s, v->u.s, v->count); break;
        case XF_JSON_ARRAY:
            emit(s, "[", 1);
            for (size_t i = 0; i < v->count; i++) {
                if (i) emit(s, ",", 1);
                write_value(s, &v->u.items[i]);
            }
            emit(s, "]", 1);
            break;
        case XF_JSON_OBJECT:
            emit(s, "{", 1);
            for (size_t i = 0; i < v->count; i++) {
                if (i) emit(s, ",", 1);
                write_string(s, v->u.members[i].key, strlen(v->u.members[i].key));
                emit(s, ":", 1);
                write_value(s, &v->u.members[i].value);
            }
            emit(s, "}", 1);
            break;
    }
}

size_t xf_json_write(const xf_json_t* v, char* buf, size_t size) {
    snippet_t s = {buf, size, 0};
    write_value(&s, v);
    return s.n;
}
