#include "kafka_limits.h"

#include <string.h>

#include "utf8.h"

int kafka_topic_name_check(const char *topic, px_error *err) {
    if (!topic || !*topic) return px_error_set(err, PX_EINVAL, "Kafka topic name is empty");
    size_t len = strlen(topic);
    if (len > KAFKA_TOPIC_NAME_MAX)
        return px_error_set(err, PX_ELIMIT,
                            "Kafka topic name '%.*s…' is %zu bytes long (at most %d)",
                            (int)utf8_cut(topic, len, 40), topic, len, KAFKA_TOPIC_NAME_MAX);
    if (!strcmp(topic, ".") || !strcmp(topic, ".."))
        return px_error_set(err, PX_EINVAL, "Kafka topic name '%s' is reserved", topic);
    for (size_t i = 0; i < len; i++) {
        char c = topic[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return px_error_set(err, PX_EINVAL,
                                "Kafka topic name '%s': character %zu is not one of [a-zA-Z0-9._-]",
                                topic, i + 1);
    }
    return 0;
}
