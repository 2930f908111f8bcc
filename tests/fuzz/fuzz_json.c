/* libFuzzer target for the JSON reader of `passerelle match` and `send` (tests/fuzz.cmake): one
 * JSON line → msgpack_json_text_to_msgpack(), then event_decode_profile_message() on the result,
 * lenient then strict, as cli_match does; refusal messages must be valid UTF-8 (they are written
 * into JSON output). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_codec.h"
#include "msgpack_json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_text(const px_error *err) {
    if (!utf8_valid(err->msg, strlen(err->msg), NULL)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    if (msgpack_json_text_to_msgpack((const char *)data, size, &sb, NULL, &err)) {
        must_be_text(&err);
    } else {
        for (int strict = 0; strict < 2; strict++) {
            event_decode_options opts = {.strict = strict};
            profile p;
            char *user_id = NULL;
            if (event_decode_profile_message(sb.data, sb.size, &opts, &p, &user_id, &err) == 0) {
                if (user_id && !utf8_valid(user_id, strlen(user_id), NULL)) abort();
                profile_free(&p);
                free(user_id);
            } else {
                must_be_text(&err);
            }
        }
    }
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
