/* msgpack_json: the documented mapping in both directions, its edge values, and its bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>

#include "json_write.h"
#include "msgpack_json.h"
#include "utf8.h"

/* JSON text → msgpack bytes in sb (cleared first); returns the error code (0 = success). */
static int to_msgpack(const char *text, msgpack_sbuffer *sb, const msgpack_json_limits *l,
                      px_error *err) {
    msgpack_sbuffer_clear(sb);
    px_error_clear(err);
    msgpack_json_text_to_msgpack(text, strlen(text), sb, l, err);
    return err->reason;
}

/* msgpack bytes → JSON text, compared with expected; or the error code when expected is NULL. */
static int to_text(const char *bytes, size_t len, const msgpack_json_limits *l,
                   const char *expected) {
    px_error err;
    px_error_clear(&err);
    char *text = msgpack_json_bytes_to_text(bytes, len, l, &err);
    if (expected) {
        if (!text) fail_msg("refused: %s", err.msg);
        assert_string_equal(text, expected);
    } else {
        assert_null(text);
    }
    free(text);
    return err.reason;
}

static void test_text_round_trip(void **state) {
    (void)state;
    const char *texts[] = {
        "{\"a\":null,\"b\":true,\"c\":false,\"d\":-12,\"e\":1.5,\"f\":\"é ☃ "
        "\\\"q\\\"\",\"g\":[1,[2,[3]]],\"h\":{},\"i\":[]}",
        "[0,127,128,255,256,65535,65536,4294967295,4294967296,-32,-33,-128,-129,-2147483648,-"
        "2147483649]",
        "[9007199254740991,-9007199254740991,0.1,-2.5e-300,-1.5e-07]",
        "\"\"",
        "{\"$bin\":\"AAEC/w==\"}",
        "{\"$ext\":[-1,\"AAAAAA==\"]}",
        "{\"$bin\":\"\",\"other\":1}",
    };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (to_msgpack(texts[i], &sb, NULL, &err)) fail_msg("%s: %s", texts[i], err.msg);
        char *back = msgpack_json_bytes_to_text(sb.data, sb.size, NULL, &err);
        if (!back) fail_msg("%s: %s", texts[i], err.msg);
        cJSON *a = cJSON_Parse(texts[i]), *b = cJSON_Parse(back);
        if (!cJSON_Compare(a, b, 1)) fail_msg("%s came back as %s", texts[i], back);
        cJSON_Delete(a);
        cJSON_Delete(b);
        free(back);
    }
    msgpack_sbuffer_destroy(&sb);
}

static void test_integer_encodings(void **state) {
    (void)state;
    struct {
        const char *json;
        const char *bytes;
        size_t len;
    } cases[] = {
        {"0", "\x00", 1},
        {"127", "\x7f", 1},
        {"255", "\xcc\xff", 2},
        {"-1", "\xff", 1},
        {"-33", "\xd0\xdf", 2},
        {"1e3", "\xcd\x03\xe8", 3}, /* integral value: an integer, whatever its spelling */
        {"9007199254740991", "\xcf\x00\x1f\xff\xff\xff\xff\xff\xff", 9},
        {"0.5", "\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00", 9},
    };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(to_msgpack(cases[i].json, &sb, NULL, &err), 0);
        assert_int_equal(sb.size, cases[i].len);
        assert_memory_equal(sb.data, cases[i].bytes, cases[i].len);
    }
    /* Integer literals beyond ±(2^53-1) would be rounded by cJSON: refused with their offset. */
    assert_int_equal(to_msgpack("9007199254740992", &sb, NULL, &err), MSGPACK_JSON_ERR_INT_RANGE);
    assert_int_equal(to_msgpack("[1, -00009007199254740993]", &sb, NULL, &err),
                     MSGPACK_JSON_ERR_INT_RANGE);
    assert_non_null(strstr(err.msg, "offset 4"));
    assert_int_equal(sb.size, 0); /* nothing left behind on error */
    assert_int_equal(to_msgpack("[-9007199254740991, \"9007199254740993\"]", &sb, NULL, &err), 0);
    /* Spelled as floats they are floats. */
    assert_int_equal(to_msgpack("9007199254740992.0", &sb, NULL, &err), 0);
    assert_memory_equal(sb.data, "\xcb\x43\x40\x00\x00\x00\x00\x00\x00", 9);
    assert_int_equal(to_msgpack("-1e300", &sb, NULL, &err), 0);
    assert_int_equal((unsigned char)sb.data[0], 0xcb);
    msgpack_sbuffer_destroy(&sb);
}

static void test_big_integers_and_floats(void **state) {
    (void)state;
    /* Beyond ±(2^53-1) integers are written exactly (cJSON raw items)… */
    assert_int_equal(
        to_text("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, NULL, "18446744073709551615"), 0);
    assert_int_equal(
        to_text("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, NULL, "-9223372036854775808"), 0);
    assert_int_equal(to_text("\xcf\x00\x20\x00\x00\x00\x00\x00\x00", 9, NULL, "9007199254740992"),
                     0);
    /* …and a tree holding them packs back to the same integers. */
    const char *bytes =
        "\x92\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xd3\x80\x00\x00\x00\x00\x00\x00\x00";
    px_error err;
    cJSON *tree = msgpack_json_from_bytes(bytes, 19, NULL, &err);
    assert_non_null(tree);
    assert_true(cJSON_IsRaw(cJSON_GetArrayItem(tree, 0)));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_json_pack(tree, &pk, NULL, &err), 0);
    assert_int_equal(sb.size, 19);
    assert_memory_equal(sb.data, bytes, 19);
    cJSON_Delete(tree);
    msgpack_sbuffer_destroy(&sb);

    assert_int_equal(to_text("\xca\x3f\xc0\x00\x00", 5, NULL, "1.5"), 0); /* float32 */
    assert_int_equal(to_text("\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a", 9, NULL, "0.1"),
                     0); /* float64 */
    /* Floats beyond ±(2^53-1) keep a float spelling, so they come back as floats. */
    assert_int_equal(to_text("\xcb\x43\x40\x00\x00\x00\x00\x00\x01", 9, NULL, "9007199254740994.0"),
                     0);
    assert_int_equal(to_text("\xcb\xfe\x37\xe4\x3c\x88\x00\x75\x9c", 9, NULL, "-1e+300"),
                     0); /* shortest */
    msgpack_sbuffer fsb;
    msgpack_sbuffer_init(&fsb);
    assert_int_equal(to_msgpack("9007199254740994.0", &fsb, NULL, &err), 0);
    assert_memory_equal(fsb.data, "\xcb\x43\x40\x00\x00\x00\x00\x00\x01", 9);
    msgpack_sbuffer_destroy(&fsb);
    assert_int_equal(to_text("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9, NULL, NULL),
                     MSGPACK_JSON_ERR_NON_FINITE);
    assert_int_equal(to_text("\xca\xff\x80\x00\x00", 5, NULL, NULL), MSGPACK_JSON_ERR_NON_FINITE);
}

/* The JSON text of one packed value, through json_write. */
static char *text_of(void (*pack)(msgpack_packer *, const void *), const void *v,
                     msgpack_sbuffer *sb) {
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack(&pk, v);
    px_error err = {0};
    char *text = msgpack_json_bytes_to_text(sb->data, sb->size, NULL, &err);
    if (!text) fail_msg("refused: %s", err.msg);
    return text;
}

static void pack_i64(msgpack_packer *pk, const void *v) {
    msgpack_pack_int64(pk, *(const int64_t *)v);
}
static void pack_u64(msgpack_packer *pk, const void *v) {
    msgpack_pack_uint64(pk, *(const uint64_t *)v);
}
static void pack_f64(msgpack_packer *pk, const void *v) {
    msgpack_pack_double(pk, *(const double *)v);
}
static void pack_f32(msgpack_packer *pk, const void *v) {
    msgpack_pack_float(pk, *(const float *)v);
}

static void test_exact_numbers(void **state) {
    (void)state;
    msgpack_sbuffer sb, back;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&back);
    px_error err;
    /* integers: exact over the whole range; within ±(2^53-1) the text packs back to the same
     * bytes */
    const struct {
        int64_t v;
        const char *text;
    } ints[] = {
        {INT64_MIN, "-9223372036854775808"},
        {INT64_MAX, "9223372036854775807"},
        {9007199254740993LL, "9007199254740993"},
        {9007199254740991LL, "9007199254740991"},
        {-9007199254740991LL, "-9007199254740991"},
        {9007199254740992LL - 1 - 1, "9007199254740990"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char *t = text_of(pack_i64, &ints[i].v, &sb);
        assert_string_equal(t, ints[i].text);
        if (ints[i].v >= -9007199254740991LL && ints[i].v <= 9007199254740991LL) {
            assert_int_equal(to_msgpack(t, &back, NULL, &err), 0);
            assert_int_equal(back.size, sb.size);
            assert_memory_equal(back.data, sb.data, sb.size);
        }
        free(t);
    }
    uint64_t umax = UINT64_MAX;
    char *t = text_of(pack_u64, &umax, &sb);
    assert_string_equal(t, "18446744073709551615");
    free(t);
    /* doubles: the shortest text that reads back to the same bits, and packs back to the same
     * bytes */
    const struct {
        double v;
        const char *text;
    } reals[] = {
        {0.1, "0.1"},
        {0.30000000000000004, "0.30000000000000004"},
        {1.0000000000000002, "1.0000000000000002"},
        {5e-324, "4.94065645841247e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {-0.0, "-0.0"},
        {0.9059, "0.9059"},
        {-1.5e-07, "-1.5e-07"},
        {123456.789, "123456.789"},
        {9007199254740994.0, "9007199254740994.0"},
        {0.0001, "0.0001"},
        {2.5, "2.5"},
        {1e15 + 0.5 - 0.5 + 0.25, "1000000000000000.2"},
        {3.0, "3"},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        t = text_of(pack_f64, &reals[i].v, &sb);
        assert_string_equal(t, reals[i].text);
        double d = strtod(t, NULL);
        assert_memory_equal(&d, &reals[i].v, sizeof d);
        assert_int_equal(to_msgpack(t, &back, NULL, &err), 0);
        if (reals[i].v != trunc(reals[i].v) || fabs(reals[i].v) > 9007199254740991.0 ||
            signbit(reals[i].v)) {
            assert_int_equal(back.size, sb.size);
            assert_memory_equal(back.data, sb.data, sb.size);
        }
        free(t);
    }
    /* every double with a short decimal gets the printf ladder's text without printf */
    for (int i = 1; i < 200000; i += 7) {
        double v = i / 1e4 - 3.0;
        char fast[40], ladder[40];
        json_format_real(v, 0, fast);
        for (int p = 15; p <= 17; p++)
            if (snprintf(ladder, sizeof ladder, "%.*g", p, v) > 0 && strtod(ladder, NULL) == v)
                break;
        if (v != trunc(v)) assert_string_equal(fast, ladder);
    }
    /* float32: at its own precision, reading back through strtof to the same float */
    const struct {
        float v;
        const char *text;
    } floats[] = {
        {0.1f, "0.1"},
        {FLT_MAX, "3.4028235e+38"},
        {FLT_MIN, "1.1754944e-38"},
        {1.5f, "1.5"},
        {16777216.0f, "16777216"},
        {1.4e-45f, "1.4013e-45"},
        {3.14159274f, "3.1415927"},
        /* fuzz_codecs: the shortest float text, -9.007199e+15, read back as an integer */
        {-9007199254740992.0f, "-9.0071993e+15"},
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        t = text_of(pack_f32, &floats[i].v, &sb);
        assert_string_equal(t, floats[i].text);
        assert_true(strtof(t, NULL) == floats[i].v);
        /* it comes back as a float64 whose text is the same */
        assert_int_equal(to_msgpack(t, &back, NULL, &err), 0);
        char *again = msgpack_json_bytes_to_text(back.data, back.size, NULL, &err);
        assert_string_equal(again, t);
        free(again);
        free(t);
    }
    /* NaN and infinities are refused */
    double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        msgpack_sbuffer_clear(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_double(&pk, bad[i]);
        assert_int_equal(to_text(sb.data, sb.size, NULL, NULL), MSGPACK_JSON_ERR_NON_FINITE);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&back);
}

static void test_escapes_and_utf8(void **state) {
    (void)state;
    /* RFC 8259 escapes: quote, backslash, the named controls, \u00XX for the others; UTF-8 as is */
    assert_int_equal(to_text("\xac\"\\\b\f\n\r\t\x01\x1f\x7f\xc3\xa9", 13, NULL,
                             "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\""),
                     0);
    /* invalid UTF-8 (a cut character, a stray continuation byte, an overlong form, a surrogate) */
    const char *bad[] = {"\xa2\xc3\x28", "\xa1\x80", "\xa2\xc0\xaf", "\xa3\xed\xa0\x80"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(to_text(bad[i], strlen(bad[i]), NULL, NULL), MSGPACK_JSON_ERR_BAD_UTF8);
    /* text quoting input: valid UTF-8 whatever the bytes; a character cut at the end is dropped */
    json_buf b = {0};
    assert_int_equal(json_write_text(&b, "d\xc3\xa9j\xd4k\xc3", 7), 0);
    assert_string_equal(b.data, "\"d\xc3\xa9j\\\\xD4k\"");
    assert_true(utf8_valid(b.data, b.len, NULL));
    json_buf_free(&b);
    assert_int_equal(utf8_cut("ab\xc3\xa9", 4, 3), 2);
    assert_int_equal(utf8_cut("ab\xe2\x98\x83", 5, 5), 5);
    assert_int_equal(utf8_cut("ab\xe2\x98", 4, 4), 2);
    /* a JSON path cut at 40 bytes inside a character, and a duplicate key holding invalid bytes */
    char line[200];
    snprintf(line, sizeof line, "{\"%s\xc3\xa9\":1e400}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(to_msgpack(line, &sb, NULL, &err), MSGPACK_JSON_ERR_NON_FINITE);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    assert_int_equal(to_msgpack("{\"\xd4k\":1,\"\xd4k\":2}", &sb, NULL, &err),
                     MSGPACK_JSON_ERR_DUPLICATE_KEY);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    assert_non_null(strstr(err.msg, "\\xD4k"));
    /* a path longer than its buffer is cut on a character boundary too */
    char deep[600] = "";
    for (int i = 0; i < 30; i++) strcat(deep, "{\"\xc3\xa9\xc3\xa9\xc3\xa9\":");
    strcat(deep, "1e400");
    for (int i = 0; i < 30; i++) strcat(deep, "}");
    assert_int_equal(to_msgpack(deep, &sb, NULL, &err), MSGPACK_JSON_ERR_NON_FINITE);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    msgpack_sbuffer_destroy(&sb);
}

static void test_bin_ext_and_keys(void **state) {
    (void)state;
    assert_int_equal(to_text("\xc4\x03\x00\x01\x02", 5, NULL, "{\"$bin\":\"AAEC\"}"), 0);
    assert_int_equal(to_text("\xc4\x00", 2, NULL, "{\"$bin\":\"\"}"), 0);
    assert_int_equal(to_text("\xd4\x05\x41", 3, NULL, "{\"$ext\":[5,\"QQ==\"]}"), 0);
    /* Integer keys become their decimal text; other key types cannot be JSON keys. */
    assert_int_equal(to_text("\x82\x0c\xc0\xff\xc3", 5, NULL, "{\"12\":null,\"-1\":true}"), 0);
    assert_int_equal(to_text("\x81\xc0\x01", 3, NULL, NULL), MSGPACK_JSON_ERR_KEY_TYPE);
    assert_int_equal(to_text("\x81\x91\x01\x01", 4, NULL, NULL), MSGPACK_JSON_ERR_KEY_TYPE);
    /* Duplicates, also after the integer → text mapping. */
    assert_int_equal(to_text("\x82\xa1"
                             "a\x01\xa1"
                             "a\x02",
                             7, NULL, NULL),
                     MSGPACK_JSON_ERR_DUPLICATE_KEY);
    assert_int_equal(to_text("\x82\xa2"
                             "12\x01\x0c\x02",
                             7, NULL, NULL),
                     MSGPACK_JSON_ERR_DUPLICATE_KEY);
    /* A real map whose only key is "$bin" would read back as bin. */
    assert_int_equal(to_text("\x81\xa4$bin\x01", 7, NULL, NULL), MSGPACK_JSON_ERR_RESERVED_KEY);
    assert_int_equal(to_text("\x82\xa4$bin\x01\xa1x\x02", 10, NULL, "{\"$bin\":1,\"x\":2}"), 0);
}

static void test_strings(void **state) {
    (void)state;
    assert_int_equal(to_text("\xa2\xc3\xa9", 3, NULL, "\"é\""), 0);
    assert_int_equal(to_text("\xa2\xc3\x28", 3, NULL, NULL), MSGPACK_JSON_ERR_BAD_UTF8);
    assert_int_equal(to_text("\xa3\xed\xa0\x80", 4, NULL, NULL),
                     MSGPACK_JSON_ERR_BAD_UTF8); /* a surrogate */
    assert_int_equal(to_text("\xa2\xc0\x80", 3, NULL, NULL),
                     MSGPACK_JSON_ERR_BAD_UTF8); /* overlong NUL */
    assert_int_equal(to_text("\xa3"
                             "a\0b",
                             4, NULL, NULL),
                     MSGPACK_JSON_ERR_NUL_IN_STRING);
    assert_int_equal(to_text("\x81\xa2\xff\xfe\x01", 5, NULL, NULL), MSGPACK_JSON_ERR_BAD_UTF8);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(to_msgpack("\"a\\u0000b\"", &sb, NULL, &err), MSGPACK_JSON_ERR_NUL_IN_STRING);
    assert_int_equal(to_msgpack("\"a\\\\u0000b\"", &sb, NULL, &err),
                     0); /* an escaped backslash, then text */
    assert_int_equal(sb.size, 9);
    assert_int_equal(to_msgpack("\"\xff\"", &sb, NULL, &err), MSGPACK_JSON_ERR_BAD_UTF8);
    assert_int_equal(to_msgpack("{\"\xc3\x28\":1}", &sb, NULL, &err), MSGPACK_JSON_ERR_BAD_UTF8);
    assert_int_equal(to_msgpack("\"\\ud83d\\ude00\"", &sb, NULL, &err),
                     0); /* a surrogate pair → 4-byte UTF-8 */
    assert_memory_equal(sb.data, "\xa4\xf0\x9f\x98\x80", 5);
    static const char with_nul[] = "[1,\0 2]";
    msgpack_sbuffer_clear(&sb);
    assert_int_equal(msgpack_json_text_to_msgpack(with_nul, sizeof with_nul - 1, &sb, NULL, &err),
                     -1);
    assert_int_equal(err.reason, MSGPACK_JSON_ERR_NUL_IN_STRING);
    msgpack_sbuffer_destroy(&sb);
}

static void test_special_objects(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(to_msgpack("{\"$bin\":\"YQ==\"}", &sb, NULL, &err), 0);
    assert_memory_equal(sb.data,
                        "\xc4\x01"
                        "a",
                        3);
    assert_int_equal(to_msgpack("{\"$ext\":[-128,\"YWI=\"]}", &sb, NULL, &err), 0);
    assert_memory_equal(sb.data,
                        "\xd5\x80"
                        "ab",
                        4);
    const char *bad[] = {
        "{\"$bin\":\"abc\"}",     /* not a multiple of 4 */
        "{\"$bin\":\"ab=c\"}",    /* padding inside */
        "{\"$bin\":\"YR==\"}",    /* non-zero unused bits: not canonical */
        "{\"$bin\":\"YQ==\\n\"}", /* whitespace */
        "{\"$bin\":7}",           "{\"$ext\":[128,\"AA==\"]}", "{\"$ext\":[1.5,\"AA==\"]}",
        "{\"$ext\":[1]}",         "{\"$ext\":\"AA==\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (to_msgpack(bad[i], &sb, NULL, &err) != MSGPACK_JSON_ERR_BAD_SPECIAL)
            fail_msg("%s: %d %s", bad[i], err.reason, err.msg);
    msgpack_sbuffer_destroy(&sb);
}

static void test_syntax_and_duplicates(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(to_msgpack("{", &sb, NULL, &err), MSGPACK_JSON_ERR_BAD_JSON);
    assert_int_equal(to_msgpack("1 2", &sb, NULL, &err), MSGPACK_JSON_ERR_BAD_JSON);
    assert_non_null(strstr(err.msg, "offset 2"));
    assert_int_equal(to_msgpack("", &sb, NULL, &err), MSGPACK_JSON_ERR_BAD_JSON);
    assert_int_equal(to_msgpack(" \t[1]\r\n", &sb, NULL, &err), 0);
    assert_int_equal(to_msgpack("{\"a\":1,\"b\":{\"c\":1,\"c\":2}}", &sb, NULL, &err),
                     MSGPACK_JSON_ERR_DUPLICATE_KEY);
    assert_non_null(strstr(err.msg, "$.b: key \"c\" appears twice"));
    /* msgpack_json_parse gives the tree with the same text checks. */
    cJSON *tree = msgpack_json_parse("{\"user_id\":\"u\"} ", 15, NULL, &err);
    assert_non_null(tree);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tree, "user_id")->valuestring, "u");
    cJSON_Delete(tree);
    assert_null(msgpack_json_parse("{\"n\":18446744073709551615}", 26, NULL, &err));
    assert_int_equal(err.reason, MSGPACK_JSON_ERR_INT_RANGE);
    assert_null(msgpack_json_parse("{} x", 4, NULL, &err));
    assert_int_equal(err.reason, MSGPACK_JSON_ERR_BAD_JSON);
    assert_int_equal(to_text("\xc1", 1, NULL, NULL), MSGPACK_JSON_ERR_BAD_MSGPACK);
    assert_int_equal(to_text("\x01\x02", 2, NULL, NULL), MSGPACK_JSON_ERR_BAD_MSGPACK);
    assert_int_equal(to_text("\x92\x01", 2, NULL, NULL), MSGPACK_JSON_ERR_BAD_MSGPACK);
    msgpack_sbuffer_destroy(&sb);
}

/* json_write walks the bytes once; its errors are still the ones of the documented order. */
static void test_writer_checks(void **state) {
    (void)state;
    px_error err;
    /* duplicates: pairwise up to 8 keys, sorted above; both name the first duplicate in text
     * order, as sorting finds it */
    static const char small[] = "\x84\xa1"
                                "b\x01\xa1"
                                "a\x02\xa1"
                                "b\x03\xa1"
                                "a\x04";
    assert_null(msgpack_json_bytes_to_text(small, sizeof small - 1, NULL, &err));
    assert_string_equal(err.msg, "$: key \"a\" appears twice");
    static const char big[] = "\x8a\xa1"
                              "j\x01\xa1"
                              "i\x01\xa1"
                              "h\x01\xa1"
                              "g\x01\xa1"
                              "f\x01"
                              "\xa1"
                              "e\x01\xa1"
                              "j\x01\xa1"
                              "c\x01\xa1"
                              "e\x01\xa1"
                              "a\x01";
    assert_null(msgpack_json_bytes_to_text(big, sizeof big - 1, NULL, &err));
    assert_string_equal(err.msg, "$: key \"e\" appears twice");
    static const char distinct[] = "\x89\x01\x01\x02\x01\x03\x01\x04\x01\x05\x01\x06\x01\x07\x01"
                                   "\x08\x01\xa1"
                                   "9\x01";
    assert_int_equal(to_text(distinct, sizeof distinct - 1, NULL,
                             "{\"1\":1,\"2\":1,\"3\":1,\"4\":1,\"5\":1,\"6\":1,\"7\":1,"
                             "\"8\":1,\"9\":1}"),
                     0);
    /* a map's keys are judged before its values, the structure before anything */
    assert_int_equal(to_text("\x82\xa1"
                             "a\xa1\xff\xa1"
                             "a\x01",
                             8, NULL, NULL),
                     MSGPACK_JSON_ERR_DUPLICATE_KEY);
    assert_int_equal(to_text("\x81\xa1"
                             "a\x92\xa1\xff",
                             6, NULL, NULL),
                     MSGPACK_JSON_ERR_BAD_MSGPACK);
    assert_null(msgpack_json_bytes_to_text("\x91\x81\xa1"
                                           "a\xa1\xff",
                                           6, NULL, &err));
    assert_string_equal(err.msg, "$[0].a: string is not valid UTF-8 (byte 0)");
    /* a hostile count is refused without allocating for it */
    assert_null(msgpack_json_bytes_to_text("\xdf\xff\xff\xff\xff\x01\x01", 7, NULL, &err));
    assert_non_null(strstr(err.msg, "declares 4294967295 elements"));
    /* escapes anywhere in a string, the buffer growing after them */
    assert_int_equal(to_text("\xaa\xc3\xa9\n\"x\xe2\x98\x83\x7f\\", 11, NULL,
                             "\"\xc3\xa9\\n\\\"x\xe2\x98\x83\x7f\\\\\""),
                     0);
    char controls[1 + 2 + 600];
    memcpy(controls, "\xda\x02\x58", 3);
    memset(controls + 3, 1, 600);
    char *text = msgpack_json_bytes_to_text(controls, sizeof controls, NULL, &err);
    assert_non_null(text);
    assert_int_equal(strlen(text), 2 + 6 * 600);
    assert_memory_equal(text + 1 + 6 * 599, "\\u0001\"", 7);
    free(text);
    /* appended to a buffer: a failure leaves it as it was */
    json_buf b = {0};
    assert_int_equal(json_buf_puts(&b, "x"), 0);
    assert_int_equal(json_write_msgpack(&b, "\x92\x01\xa1\xff", 4, NULL, &err), -1);
    assert_int_equal(b.len, 1);
    assert_string_equal(b.data, "x");
    assert_int_equal(json_write_msgpack(&b, "\x92\x01\xca\x3f\xc0\x00\x00", 7, NULL, &err), 0);
    assert_string_equal(b.data, "x[1,1.5]");
    json_buf_free(&b);
}

static void test_bounds(void **state) {
    (void)state;
    msgpack_json_limits l = msgpack_json_limits_default();
    assert_int_equal(l.max_depth, MSGPACK_JSON_DEFAULT_MAX_DEPTH);
    l.max_depth = 4;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(to_msgpack("[[{\"a\":[1]}]]", &sb, &l, &err), 0);
    assert_int_equal(to_msgpack("[[{\"a\":[[1]]}]]", &sb, &l, &err), MSGPACK_JSON_ERR_TOO_DEEP);
    assert_non_null(strstr(err.msg, "$[0][0].a[0]"));
    assert_int_equal(to_text("\x91\x91\x91\x91\x01", 5, &l, "[[[[1]]]]"), 0);
    assert_int_equal(to_text("\x91\x91\x91\x91\x91\x01", 6, &l, NULL), MSGPACK_JSON_ERR_TOO_DEEP);
    /* The same bound on an already unpacked object. */
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, "\x91\x91\x91\x91\x91\x01", 6, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_null(msgpack_json_from_object(&up.data, &l, &err));
    assert_int_equal(err.reason, MSGPACK_JSON_ERR_TOO_DEEP);
    l.max_depth = 5;
    cJSON *ok = msgpack_json_from_object(&up.data, &l, &err);
    assert_non_null(ok);
    cJSON_Delete(ok);
    msgpack_unpacked_destroy(&up);

    /* bin/ext become {"$bin"}/{"$ext"} objects but stay one scalar deep (found by libFuzzer). */
    l.max_depth = 2;
    assert_int_equal(to_text("\x91\x91\xc4\x01"
                             "a",
                             5, &l, "[[{\"$bin\":\"YQ==\"}]]"),
                     0);
    assert_int_equal(to_msgpack("[[{\"$bin\":\"YQ==\"}]]", &sb, &l, &err), 0);
    assert_int_equal(to_msgpack("[[{\"$ext\":[1,\"YQ==\"]}]]", &sb, &l, &err), 0);
    assert_int_equal(to_msgpack("[[{\"a\":1}]]", &sb, &l, &err), MSGPACK_JSON_ERR_TOO_DEEP);

    l = msgpack_json_limits_default();
    l.max_bytes = 7;
    assert_int_equal(to_msgpack("[1,2,3]", &sb, &l, &err), 0);
    assert_int_equal(to_msgpack("[1,2,34]", &sb, &l, &err), MSGPACK_JSON_ERR_TOO_BIG);
    l.max_bytes = 4;
    assert_int_equal(to_text("\x93\x01\x02\x03", 4, &l, "[1,2,3]"), 0);
    assert_int_equal(to_text("\x94\x01\x02\x03\x04", 5, &l, NULL), MSGPACK_JSON_ERR_TOO_BIG);
    msgpack_sbuffer_destroy(&sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_round_trip),
        cmocka_unit_test(test_integer_encodings),
        cmocka_unit_test(test_big_integers_and_floats),
        cmocka_unit_test(test_bin_ext_and_keys),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_special_objects),
        cmocka_unit_test(test_syntax_and_duplicates),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_exact_numbers),
        cmocka_unit_test(test_escapes_and_utf8),
        cmocka_unit_test(test_writer_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
