// SPDX-License-Identifier: MIT
// The JSON parser behind safetensors headers and model configs (lib/json.c): values as RFC 8259 has them,
// everything else refused with a position, and a failed allocation at any point an out-of-memory status
// that leaves nothing allocated.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static xf_status_t parse(const char* text, xf_json_doc_t** doc, char* err, size_t err_size, size_t* pos) {
    return xf_json_parse(NULL, text, strlen(text), doc, pos, err, err_size);
}

Test(json, values) {
    const char* text = "{\"i\":-9223372036854775808,\"big\":9223372036854775808,\"r\":-2.5e-3,\"t\":true,"
                       "\"n\":null,\"s\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\",\"a\":[[],{}],"
                       "\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}";
    xf_json_doc_t* doc;
    char err[128];
    size_t pos;
    cr_assert_eq(parse(text, &doc, err, sizeof err, &pos), XF_OK, "%s at %zu", err, pos);
    const xf_json_t* root = xf_json_root(doc);
    cr_assert_eq(root->type, XF_JSON_OBJECT);
    cr_assert_eq(root->count, 8);
    cr_assert_str_eq(root->u.members[0].key, "i");  // document order
    cr_assert_eq(xf_json_get(root, "i")->type, XF_JSON_INT);
    cr_assert_eq(xf_json_get(root, "i")->u.i, INT64_MIN);
    cr_assert_eq(xf_json_get(root, "big")->type, XF_JSON_REAL);
    double d;
    cr_assert(xf_json_number(xf_json_get(root, "r"), &d));
    cr_assert_float_eq(d, -2.5e-3, 1e-18);
    cr_assert(xf_json_get(root, "t")->u.b);
    cr_assert_eq(xf_json_get(root, "n")->type, XF_JSON_NULL);
    cr_assert_str_eq(xf_json_get(root, "s")->u.s, "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
    cr_assert_str_eq(xf_json_get(root, "u")->u.s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    cr_assert_eq(xf_json_get(root, "a")->count, 2);
    cr_assert_null(xf_json_get(root, "missing"));
    char snippet[16];
    xf_json_snippet(xf_json_get(root, "a"), snippet, sizeof snippet);
    cr_assert_str_eq(snippet, "[[],{}]");
    xf_json_snippet(root, snippet, sizeof snippet);
    cr_assert_str_eq(snippet, "{\"i\":-922337...");
    xf_json_free(doc);
}

typedef struct {
    char text[80];
    char why[48];
    size_t pos;
} bad_t;

ParameterizedTestParameters(json, refused) {
    static bad_t cases[] = {
        {"", "unexpected end", 0},
        {"{\"a\":1,\"a\":2}", "duplicate key 'a'", 13},
        {"[1,]", "expected a value", 3},
        {"01", "unexpected text", 1},
        {"1.", "invalid number", 0},
        {"1e999", "out of range", 5},
        {"\"\\ud800\"", "unpaired surrogate", 7},
        {"\"\\udc00\"", "unpaired surrogate", 7},
        {"\"\\x\"", "invalid escape", 3},
        {"\"\xff\"", "invalid UTF-8", 1},
        {"\"\xc0\xaf\"", "invalid UTF-8", 1},
        {"\"\xed\xa0\x80\"", "invalid UTF-8", 1},
        {"\"a\nb\"", "control character", 2},
        {"{\"a\\u0000\":1}", "NUL character", 10},
        {"{\"a\" 1}", "expected ':'", 5},
        {"{1:2}", "expected a string key", 1},
        {"tru", "invalid literal", 0},
        {"[1] x", "unexpected text", 4},
        {"\"abc", "unterminated", 1},
    };
    return cr_make_param_array(bad_t, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_t* c, json, refused) {
    xf_json_doc_t* doc = (xf_json_doc_t*)1;
    char err[128] = "";
    size_t pos = 99;
    cr_assert_eq(parse(c->text, &doc, err, sizeof err, &pos), XF_ERR_DATA_LOSS, "%s", c->text);
    cr_expect_null(doc);
    cr_expect(strstr(err, c->why), "'%s': message '%s' does not say '%s'", c->text, err, c->why);
    cr_expect_eq(pos, c->pos, "'%s': position %zu, expected %zu", c->text, pos, c->pos);
}

// Integers past int64 are numbers (the accumulation once overflowed: found by fuzz_model_load).
// xf_json_write gives text that parses back to the same values, and writes it again identically.
Test(json, written_text_parses_back) {
    const char* text = "{\"i\":-9223372036854775808,\"r\":0.1,\"e\":-2.5e-300,\"t\":true,\"f\":false,\"n\":null,"
                       "\"s\":\"q\\\"b\\\\c\\u0001\\n\xc3\xa9\",\"a\":[[],{},[1,[2]]],\"o\":{\"k\":{}}}";
    xf_json_doc_t *doc, *again;
    char err[128], first[512], second[512];
    size_t pos;
    cr_assert_eq(parse(text, &doc, err, sizeof err, &pos), XF_OK, "%s at %zu", err, pos);
    size_t n = xf_json_write(xf_json_root(doc), NULL, 0);
    cr_assert(n > 0 && n < sizeof first);
    cr_assert_eq(xf_json_write(xf_json_root(doc), first, sizeof first), n);
    first[n] = '\0';
    cr_assert_eq(xf_json_write(xf_json_root(doc), first, 5), n, "a short buffer still measures");
    cr_assert_eq(xf_json_parse(NULL, first, n, &again, &pos, err, sizeof err), XF_OK, "%s at %zu in %s", err, pos,
                 first);
    const xf_json_t* r = xf_json_root(again);
    cr_assert_eq(xf_json_get(r, "i")->u.i, INT64_MIN);
    cr_assert_eq(xf_json_get(r, "r")->u.d, 0.1);
    cr_assert_eq(xf_json_get(r, "e")->u.d, -2.5e-300);
    cr_assert_str_eq(xf_json_get(r, "s")->u.s, "q\"b\\c\x01\n\xc3\xa9");
    cr_assert_eq(xf_json_write(r, second, sizeof second), n);
    second[n] = '\0';
    cr_assert_str_eq(first, second);
    xf_json_free(doc);
    xf_json_free(again);
}

Test(json, integers_past_int64_are_numbers) {
    xf_json_doc_t* doc;
    char err[128];
    size_t pos;
    const char* text = "[99999999999999999999,-9223372036854775809,19999999999999999999,9223372036854775807]";
    cr_assert_eq(parse(text, &doc, err, sizeof err, &pos), XF_OK, "%s", err);
    const xf_json_t* a = xf_json_root(doc);
    for (int i = 0; i < 3; i++) cr_expect_eq(a->u.items[i].type, XF_JSON_REAL, "item %d", i);
    cr_expect_eq(a->u.items[3].type, XF_JSON_INT);
    cr_expect_eq(a->u.items[3].u.i, INT64_MAX);
    double d;
    cr_assert(xf_json_number(&a->u.items[1], &d));
    cr_expect_float_eq(d, -9223372036854775809.0, 1e4);
    xf_json_free(doc);
}

Test(json, nesting_is_bounded) {
    char text[300];
    memset(text, '[', 100);
    memset(text + 100, ']', 100);
    text[200] = '\0';
    xf_json_doc_t* doc;
    char err[128];
    size_t pos;
    cr_assert_eq(parse(text, &doc, err, sizeof err, &pos), XF_ERR_DATA_LOSS);
    cr_expect(strstr(err, "deeper than 64"), "%s", err);
    text[64] = '\0';
    memset(text, '[', 32);
    memset(text + 32, ']', 32);
    cr_expect_eq(parse(text, &doc, err, sizeof err, &pos), XF_OK, "%s", err);
    xf_json_free(doc);
}

// An allocator that fails its |fail_at|-th call and counts what is still allocated.
typedef struct {
    int calls, fail_at, live;
} counting_t;

static void* counting_alloc(void* user, size_t size) {
    counting_t* c = user;
    if (++c->calls == c->fail_at) return NULL;
    void* p = malloc(size);
    c->live += p != NULL;
    return p;
}

static void counting_free(void* user, void* ptr) {
    counting_t* c = user;
    c->live -= ptr != NULL;
    free(ptr);
}

// Every allocation of a header-sized document fails in turn: each is an out-of-memory status (never a
// message blaming the text), and nothing stays allocated.
Test(json, every_failed_allocation_is_out_of_memory) {
    size_t cap = 200000, n = 0;
    char* text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "{\"__metadata__\":{\"config\":\"{}\"}");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(text + n, cap - n, ",\"blocks.%d.weight\":{\"dtype\":\"F32\",\"shape\":[%d,3],"
                              "\"data_offsets\":[%d,%d]}", i, i + 1, 12 * i, 12 * i + 12);
    n += (size_t)snprintf(text + n, cap - n, "}");
    counting_t count = {0, 0, 0};
    xf_json_alloc_t alloc = {counting_alloc, counting_free, &count};
    xf_json_doc_t* doc;
    char err[128];
    size_t pos;
    cr_assert_eq(xf_json_parse(&alloc, text, n, &doc, &pos, err, sizeof err), XF_OK, "%s at %zu", err, pos);
    xf_json_free(doc);
    cr_assert_eq(count.live, 0);
    const int total = count.calls;
    cr_assert_gt(total, 3);
    for (int k = 1; k <= total; k++) {
        count = (counting_t){0, k, 0};
        doc = (xf_json_doc_t*)1;
        xf_status_t st = xf_json_parse(&alloc, text, n, &doc, &pos, err, sizeof err);
        cr_expect_eq(st, XF_ERR_OUT_OF_MEMORY, "allocation %d of %d: %d (%s)", k, total, st, err);
        cr_expect_null(doc);
        cr_expect_eq(count.live, 0, "allocation %d of %d: %d blocks left", k, total, count.live);
    }
    free(text);
}
