/* cli_labels — ROME codes in words for the command line (cli_labels.h). */
#include "cli_labels.h"

#include <stdio.h>
#include <string.h>

/* A JSON number as a code_ogr, ROME_NONE when it is none (negative, fractional, too large). */
static uint32_t code_ogr(double code) {
    return code >= 0 && code < ROME_NONE && code == (double)(uint32_t)code ? (uint32_t)code
                                                                           : ROME_NONE;
}

const char *cli_label_item(const rome_index *idx, double code) {
    uint32_t it = code_ogr(code) == ROME_NONE ? ROME_NONE : rome_item_find(idx, code_ogr(code));
    return it == ROME_NONE ? NULL : rome_str(idx, idx->items[it].label);
}

const char *cli_label_contexte(const rome_index *idx, double code) {
    uint32_t c = code_ogr(code) == ROME_NONE ? ROME_NONE : rome_contexte_find(idx, code_ogr(code));
    return c == ROME_NONE ? NULL : rome_str(idx, idx->contextes[c].label);
}

const char *cli_label_appellation(const rome_index *idx, double code) {
    uint32_t a =
        code_ogr(code) == ROME_NONE ? ROME_NONE : rome_appellation_find(idx, code_ogr(code));
    return a == ROME_NONE ? NULL : rome_str(idx, idx->appellations[a].label_long);
}

const char *cli_label_fiche(const rome_index *idx, const char *code) {
    uint32_t f = rome_fiche_find(idx, code);
    return f == ROME_NONE ? NULL : rome_str(idx, idx->fiches[f].label);
}

const char *cli_label_domaine(const rome_index *idx, const char *code) {
    if (strlen(code) == 1) {
        uint32_t g = rome_grand_domaine_find(idx, code);
        return g == ROME_NONE ? NULL : rome_str(idx, idx->grands_domaines[g].label);
    }
    uint32_t d = rome_domaine_find(idx, code);
    return d == ROME_NONE ? NULL : rome_str(idx, idx->domaines[d].label);
}

/* The label of a code of any kind the results carry: integers are items, contextes or
 * appellations (which `kind` names), strings are fiches or domains. */
typedef enum label_kind {
    LABEL_ITEM,
    LABEL_CONTEXTE,
    LABEL_APPELLATION,
    LABEL_FICHE,
    LABEL_DOMAINE
} label_kind;

static const char *label_of(const rome_index *idx, label_kind kind, const cJSON *code) {
    if (cJSON_IsString(code))
        return kind == LABEL_FICHE     ? cli_label_fiche(idx, code->valuestring)
               : kind == LABEL_DOMAINE ? cli_label_domaine(idx, code->valuestring)
                                       : NULL;
    if (!cJSON_IsNumber(code)) return NULL;
    return kind == LABEL_ITEM          ? cli_label_item(idx, code->valuedouble)
           : kind == LABEL_CONTEXTE    ? cli_label_contexte(idx, code->valuedouble)
           : kind == LABEL_APPELLATION ? cli_label_appellation(idx, code->valuedouble)
                                       : NULL;
}

static cJSON *label_value(const char *label) {
    return label ? cJSON_CreateString(label) : cJSON_CreateNull();
}

/* o[name] = the label of o[key], when o has that key and it is not null. 0, or -1 out of memory. */
static int add_label(const rome_index *idx, cJSON *o, const char *key, label_kind kind,
                     const char *name) {
    const cJSON *code = cJSON_GetObjectItem(o, key);
    if (!code || cJSON_IsNull(code)) return 0;
    cJSON *v = label_value(label_of(idx, kind, code));
    return v && cJSON_AddItemToObject(o, name, v) ? 0 : (cJSON_Delete(v), -1);
}

/* o[key + "_labels"]: the labels of the code array o[key], in its order. */
static int add_labels(const rome_index *idx, cJSON *o, const char *key, label_kind kind) {
    const cJSON *codes = cJSON_GetObjectItem(o, key), *c;
    if (!cJSON_IsArray(codes)) return 0;
    char name[32];
    snprintf(name, sizeof name, "%s_labels", key);
    cJSON *labels = cJSON_AddArrayToObject(o, name);
    if (!labels) return -1;
    cJSON_ArrayForEach(c, codes) {
        cJSON *v = label_value(label_of(idx, kind, c));
        if (!v || !cJSON_AddItemToArray(labels, v)) return cJSON_Delete(v), -1;
    }
    return 0;
}

/* A removal's code is a contexte, a competence, a parent fiche or a domain, as `because` says. */
static label_kind removal_kind(const cJSON *removed_job) {
    const cJSON *because = cJSON_GetObjectItem(removed_job, "because");
    const char *b = cJSON_IsString(because) ? because->valuestring : "";
    return !strcmp(b, "competence") ? LABEL_ITEM
           : !strcmp(b, "parent")   ? LABEL_FICHE
           : !strcmp(b, "domain")   ? LABEL_DOMAINE
                                    : LABEL_CONTEXTE;
}

int cli_labels_add(const rome_index *idx, cJSON *result, px_error *err) {
    static const struct {
        const char *key;
        label_kind kind;
    } job_codes[] = {{"held", LABEL_ITEM},
                     {"missing", LABEL_ITEM},
                     {"contexts", LABEL_CONTEXTE},
                     {"qualifications", LABEL_ITEM}};
    int rc = 0;
    cJSON *o, *x;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(result, "experiences")) {
        rc |= add_label(idx, o, "appellation", LABEL_APPELLATION, "appellation_label");
        rc |= add_label(idx, o, "rome", LABEL_FICHE, "rome_label");
    }
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(result, "skills")) rc |=
        add_label(idx, o, "macro", LABEL_ITEM, "macro_label");
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(
                              result, "jobs")) for (size_t k = 0;
                                                    k < sizeof job_codes / sizeof job_codes[0]; k++)
        rc |= add_labels(idx, o, job_codes[k].key, job_codes[k].kind);
    const cJSON *excluded = cJSON_GetObjectItem(result, "excluded");
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(excluded, "constraints")) {
        /* a named constraint ("no_weekend") is words already; a contexte entry is a code */
        if (cJSON_IsNumber(cJSON_GetObjectItem(o, "avoid")))
            rc |= add_label(idx, o, "avoid", LABEL_CONTEXTE, "avoid_label");
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "jobs")) rc |=
            add_label(idx, x, "code", removal_kind(x), "code_label");
    }
    return rc ? px_error_set(err, PX_ENOMEM, "out of memory while adding labels") : 0;
}

int cli_labels_apply(const rome_index *idx, json_buf *text, size_t from, px_error *err) {
    cJSON *result = cJSON_ParseWithLength(text->data + from, text->len - from);
    int rc = -1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (!cJSON_IsObject(result))
        px_error_set(err, PX_EFATAL, "internal: could not read back the result to label it");
    else if (!cli_labels_add(idx, result, err) && !msgpack_json_pack(result, &pk, NULL, err)) {
        text->len = from;
        rc = json_write_msgpack(text, sb.data, sb.size, NULL, err);
    }
    msgpack_sbuffer_destroy(&sb);
    cJSON_Delete(result);
    return rc;
}
