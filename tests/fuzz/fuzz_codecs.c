/* libFuzzer target for every decoder of untrusted bytes (built only with clang, see
 * tests/codec.cmake): event_decode, user_state_decode and msgpack → JSON → msgpack → JSON, which
 * must give the same JSON twice. Run: ./fuzz_codecs -max_total_time=60 [corpus_dir] */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "event_codec.h"
#include "msgpack_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    event ev;
    if (event_decode(buf, size, "alice", 5, NULL, &ev, NULL) == 0) event_free(&ev);
    user_state st;
    if (user_state_decode(buf, size, &st, NULL) == 0) user_state_free(&st);
    cJSON *json = msgpack_json_from_bytes(buf, size, NULL, NULL);
    if (json) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (msgpack_json_pack(json, &pk, NULL, NULL)) abort();
        cJSON *again = msgpack_json_from_bytes(sb.data, sb.size, NULL, NULL);
        if (!again || !cJSON_Compare(json, again, 1)) abort();
        cJSON_Delete(again);
        msgpack_sbuffer_destroy(&sb);
        cJSON_Delete(json);
    }
    return 0;
}
