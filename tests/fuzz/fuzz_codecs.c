/* libFuzzer target for every decoder of untrusted bytes (built only with clang, see
 * tests/fuzz.cmake): event_decode, user_state_decode and msgpack → JSON → msgpack → JSON, which
 * must give the same JSON bytes twice. Run: ./fuzz_codecs -max_total_time=60 [corpus_dir] */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_codec.h"
#include "msgpack_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    event ev;
    if (event_decode(buf, size, "alice", 5, NULL, &ev, NULL) == 0) event_free(&ev);
    user_state st;
    if (user_state_decode(buf, size, &st, NULL) == 0) user_state_free(&st);
    char *json = msgpack_json_bytes_to_text(buf, size, NULL, NULL);
    if (json) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        px_error err;
        /* the one documented refusal on the way back: integers beyond ±(2^53-1) */
        if (msgpack_json_text_to_msgpack(json, strlen(json), &sb, NULL, &err)) {
            if (err.reason != MSGPACK_JSON_ERR_INT_RANGE) abort();
        } else {
            char *again = msgpack_json_bytes_to_text(sb.data, sb.size, NULL, NULL);
            if (!again || strcmp(json, again)) abort();
            free(again);
        }
        msgpack_sbuffer_destroy(&sb);
        free(json);
    }
    return 0;
}
