#include "title_resolver.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 64u            /* longer words are cut (no ROME word comes close) */
#define FUZZY_CANDIDATES 8u     /* vocabulary words kept per misspelt query word */
#define VARIANTS_PER_APPELLATION 3u

/* A word of a label or a query: normalised bytes plus whether it is a stop word. */
typedef struct word {
    char s[WORD_MAX];
    uint8_t len;
    bool stop;
} word;

struct title_resolver {
    const rome_index *idx;
    /* vocabulary: words in one pool, found through an open-addressing hash table */
    char *pool;
    uint32_t *word_off;          /* n_words + 1 offsets into pool */
    double *idf;                 /* per word */
    uint32_t n_words;
    uint32_t *table;             /* word id + 1, 0 = empty */
    uint32_t table_mask;
    double mean_idf;             /* weight of a query word found nowhere */
    /* variants: token sets, each belonging to one appellation */
    uint32_t n_variants;
    uint32_t *var_app;
    double *var_weight;          /* Σ idf of its words */
    uint32_t *post_off;          /* word → variants (CSR) */
    uint32_t *post;
};

struct title_scratch {
    double *acc;                 /* per variant: matched weight */
    uint32_t *stamp;             /* per variant: last query word (1-based) that counted */
    uint32_t *touched;           /* variants with acc > 0 */
    double *best;                /* per appellation: best variant score */
    uint32_t *apps;              /* appellations with best > 0 */
};

/* ---- normalisation ---- */

/* Decodes one UTF-8 sequence at s (len bytes left); returns its length or 0 when malformed. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    size_t n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || n > len) return 0;
    uint32_t c = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_for_len[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

/* The ASCII spelling of a Latin letter or digit (lower case, accents removed), or NULL for a
 * separator. Covers Latin-1 and the French ligatures, which is all ROME labels use. */
static const char *fold(uint32_t cp, char buf[2]) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) { buf[0] = (char)cp; buf[1] = 0; return buf; }
    if (cp >= 'A' && cp <= 'Z') { buf[0] = (char)(cp - 'A' + 'a'); buf[1] = 0; return buf; }
    if (cp == 0x152 || cp == 0x153) return "oe";
    if (cp == 0xC6 || cp == 0xE6) return "ae";
    if (cp == 0xDF) return "ss";
    if (cp == 0x178 || cp == 0xFF) return "y";
    if (cp < 0xC0 || cp > 0xFF || cp == 0xD7 || cp == 0xF7) return NULL;
    /* U+00C0..U+00FF, upper and lower case share one table (lower = upper + 0x20) */
    static const char latin1[32] = "aaaaaaaceeeeiiiidnooooo_ouuuuyts";
    char c = latin1[(cp & 0x1F)];
    if (c == '_') return NULL;
    if (cp == 0xDE || cp == 0xFE) return "th";
    buf[0] = c;
    buf[1] = 0;
    return buf;
}

static bool is_stop_word(const char *s, size_t len) {
    static const char *const stops[] = {"a", "au", "aux", "avec", "chez", "d", "dans", "de", "des", "du", "en",
                                        "et", "l", "la", "le", "les", "ou", "par", "pour", "sur", "un", "une"};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
        if (strlen(stops[i]) == len && !memcmp(stops[i], s, len)) return true;
    return false;
}

/* Splits text into normalised words (at most max). A "(…)" glued to a letter, as in
 * "Vendeur(se)", is a gender suffix and is dropped. Returns the count, or -1 if not UTF-8. */
static int split_words(const char *text, size_t len, word *out, size_t max) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    word cur = {{0}, 0, false};
    bool prev_letter = false;
    while (i <= len) {
        uint32_t cp = ' ';
        size_t step = 1;
        if (i < len && !(step = utf8_decode(s + i, len - i, &cp))) return -1;
        char buf[2];
        const char *f = i < len ? fold(cp, buf) : NULL;
        if (cp == '(' && prev_letter) {
            const char *close = memchr(text + i, ')', len - i);
            if (close && close - (text + i) <= 8) {
                i = (size_t)(close - text) + 1;
                continue;
            }
        }
        if (f) {
            for (; *f && cur.len < WORD_MAX - 1; f++) cur.s[cur.len++] = *f;
            prev_letter = true;
        } else {
            if (cur.len && n < max) {
                if (cur.len > 3 && (cur.s[cur.len - 1] == 's' || cur.s[cur.len - 1] == 'x')) cur.len--;
                cur.s[cur.len] = 0;
                cur.stop = is_stop_word(cur.s, cur.len);
                out[n++] = cur;
            }
            cur.len = 0;
            prev_letter = false;
        }
        i += step;
    }
    return (int)n;
}

int title_normalize(const char *text, char *out, size_t out_size) {
    word words[TITLE_MAX_WORDS];
    int n = split_words(text, strlen(text), words, TITLE_MAX_WORDS);
    if (n < 0) return -1;
    size_t w = 0;
    for (int i = 0; i < n; i++) {
        if (words[i].stop) continue;
        for (size_t k = 0; k <= words[i].len && w + 1 < out_size; k++)
            out[w++] = k < words[i].len ? words[i].s[k] : ' ';
    }
    if (w && out[w - 1] == ' ') w--;
    if (out_size) out[w] = 0;
    return (int)w;
}

/* ---- vocabulary ---- */

static uint32_t hash_word(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t vocab_find(const title_resolver *r, const char *s, size_t len) {
    for (uint32_t slot = hash_word(s, len) & r->table_mask;; slot = (slot + 1) & r->table_mask) {
        uint32_t id = r->table[slot];
        if (!id) return ROME_NONE;
        id--;
        if (r->word_off[id + 1] - r->word_off[id] == len && !memcmp(r->pool + r->word_off[id], s, len)) return id;
    }
}

/* Builder state: the vocabulary grows while labels are read. */
typedef struct builder {
    title_resolver *r;
    size_t pool_len, pool_cap, words_cap;
    uint32_t *df;
    uint32_t *var_tokens, *var_tok_off;   /* variant → words (CSR, built incrementally) */
    size_t n_tokens, tokens_cap;
} builder;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np) return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static uint32_t vocab_add(builder *b, const char *s, size_t len) {
    title_resolver *r = b->r;
    uint32_t id = vocab_find(r, s, len);
    if (id != ROME_NONE) return id;
    if (grow((void **)&r->pool, &b->pool_cap, b->pool_len + len, 1) ||
        grow((void **)&r->word_off, &b->words_cap, (size_t)r->n_words + 2, sizeof *r->word_off))
        return ROME_NONE;
    memcpy(r->pool + b->pool_len, s, len);
    r->word_off[r->n_words] = (uint32_t)b->pool_len;
    b->pool_len += len;
    r->word_off[r->n_words + 1] = (uint32_t)b->pool_len;
    id = r->n_words++;
    uint32_t slot = hash_word(s, len) & r->table_mask;
    while (r->table[slot]) slot = (slot + 1) & r->table_mask;
    r->table[slot] = id + 1;
    return id;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Adds the non-stop words of words[0..n) as one variant of appellation app, unless it equals an
 * earlier variant of the same appellation (first_var = that appellation's first variant). */
static int add_variant(builder *b, uint32_t app, const word *words, size_t n, uint32_t first_var) {
    title_resolver *r = b->r;
    uint32_t ids[TITLE_MAX_WORDS * 2];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof ids / sizeof ids[0]; i++) {
        if (words[i].stop) continue;
        uint32_t id = vocab_add(b, words[i].s, words[i].len);
        if (id == ROME_NONE) return -1;
        ids[k++] = id;
    }
    qsort(ids, k, sizeof ids[0], cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (!u || ids[u - 1] != ids[i]) ids[u++] = ids[i];
    if (!u) return 0;
    for (uint32_t v = first_var; v < r->n_variants; v++) {
        uint32_t len = b->var_tok_off[v + 1] - b->var_tok_off[v];
        if (len == u && !memcmp(b->var_tokens + b->var_tok_off[v], ids, u * sizeof ids[0])) return 0;
    }
    if (grow((void **)&b->var_tokens, &b->tokens_cap, b->n_tokens + u, sizeof *b->var_tokens)) return -1;
    memcpy(b->var_tokens + b->n_tokens, ids, u * sizeof ids[0]);
    b->n_tokens += u;
    r->var_app[r->n_variants] = app;
    b->var_tok_off[++r->n_variants] = (uint32_t)b->n_tokens;
    return 0;
}

/* "Régleur metteur / Régleuse metteuse au point" → masculine "régleur metteur au point" and
 * feminine "régleuse metteuse au point": the words after the slash that go beyond the masculine
 * part's length are the shared tail. */
static int add_label(builder *b, uint32_t app, const char *label, uint32_t first_var) {
    word left[TITLE_MAX_WORDS * 2], right[TITLE_MAX_WORDS * 2];
    const size_t max = TITLE_MAX_WORDS * 2;
    const char *slash = strstr(label, " / ");
    int nl = split_words(label, slash ? (size_t)(slash - label) : strlen(label), left, max);
    if (nl < 0) return 0;  /* a label that is not UTF-8 cannot be matched; the loader refuses those */
    if (!slash) return add_variant(b, app, left, (size_t)nl, first_var);
    int nr = split_words(slash + 3, strlen(slash + 3), right, max);
    if (nr < 0) return 0;
    if (add_variant(b, app, right, (size_t)nr, first_var)) return -1;
    for (int i = nl; i < nr && (size_t)nl < max; i++) left[nl++] = right[i];
    return add_variant(b, app, left, (size_t)nl, first_var);
}

title_resolver *title_resolver_build(const rome_index *idx, px_error *err) {
    title_resolver *r = calloc(1, sizeof *r);
    builder b = {.r = r};
    uint32_t n_apps = idx->n.appellations;
    size_t max_variants = (size_t)n_apps * VARIANTS_PER_APPELLATION;
    if (!r) goto nomem;
    r->idx = idx;
    uint32_t table_size = 1024;
    while (table_size < n_apps * 8u) table_size *= 2;   /* labels bring fewer words than 4 per title */
    r->table_mask = table_size - 1;
    r->table = calloc(table_size, sizeof *r->table);
    r->var_app = malloc((max_variants + 1) * sizeof *r->var_app);
    b.var_tok_off = calloc(max_variants + 1, sizeof *b.var_tok_off);
    if (!r->table || !r->var_app || !b.var_tok_off) goto nomem;
    for (uint32_t a = 0; a < n_apps; a++) {
        const rome_appellation *ap = &idx->appellations[a];
        uint32_t first = r->n_variants;
        if (add_label(&b, a, rome_str(idx, ap->label_long), first) ||
            add_label(&b, a, rome_str(idx, ap->label_short), first))
            goto nomem;
        if (r->n_words * 2u > table_size) {
            px_error_set(err, 1, "title_resolver: vocabulary of %u words outgrew its table", r->n_words);
            goto fail;
        }
    }
    /* document frequencies, idf, variant weights, postings */
    b.df = calloc(r->n_words ? r->n_words : 1, sizeof *b.df);
    r->idf = malloc((r->n_words ? r->n_words : 1) * sizeof *r->idf);
    r->var_weight = malloc((r->n_variants ? r->n_variants : 1) * sizeof *r->var_weight);
    r->post_off = calloc((size_t)r->n_words + 1, sizeof *r->post_off);
    r->post = malloc((b.n_tokens ? b.n_tokens : 1) * sizeof *r->post);
    if (!b.df || !r->idf || !r->var_weight || !r->post_off || !r->post) goto nomem;
    for (size_t t = 0; t < b.n_tokens; t++) b.df[b.var_tokens[t]]++;
    double idf_sum = 0;
    for (uint32_t w = 0; w < r->n_words; w++) {
        r->idf[w] = log(1.0 + (double)r->n_variants / b.df[w]);
        idf_sum += r->idf[w];
        r->post_off[w + 1] = r->post_off[w] + b.df[w];
    }
    r->mean_idf = r->n_words ? idf_sum / r->n_words : 1.0;
    memset(b.df, 0, r->n_words * sizeof *b.df);  /* reused as fill cursors */
    for (uint32_t v = 0; v < r->n_variants; v++) {
        r->var_weight[v] = 0;
        for (uint32_t t = b.var_tok_off[v]; t < b.var_tok_off[v + 1]; t++) {
            uint32_t w = b.var_tokens[t];
            r->var_weight[v] += r->idf[w];
            r->post[r->post_off[w] + b.df[w]++] = v;
        }
    }
    free(b.df);
    free(b.var_tokens);
    free(b.var_tok_off);
    return r;
nomem:
    px_error_set(err, 1, "title_resolver: out of memory while indexing %u appellations", n_apps);
fail:
    free(b.df);
    free(b.var_tokens);
    free(b.var_tok_off);
    title_resolver_free(r);
    return NULL;
}

void title_resolver_free(title_resolver *r) {
    if (!r) return;
    free(r->pool);
    free(r->word_off);
    free(r->idf);
    free(r->table);
    free(r->var_app);
    free(r->var_weight);
    free(r->post_off);
    free(r->post);
    free(r);
}

title_scratch *title_scratch_new(const title_resolver *r, px_error *err) {
    title_scratch *s = calloc(1, sizeof *s);
    size_t nv = r->n_variants ? r->n_variants : 1, na = r->idx->n.appellations ? r->idx->n.appellations : 1;
    if (s) {
        s->acc = calloc(nv, sizeof *s->acc);
        s->stamp = calloc(nv, sizeof *s->stamp);
        s->touched = malloc(nv * sizeof *s->touched);
        s->best = calloc(na, sizeof *s->best);
        s->apps = malloc(na * sizeof *s->apps);
    }
    if (!s || !s->acc || !s->stamp || !s->touched || !s->best || !s->apps) {
        title_scratch_free(s);
        px_error_set(err, 1, "title_resolver: out of memory for a scratch area");
        return NULL;
    }
    return s;
}

void title_scratch_free(title_scratch *s) {
    if (!s) return;
    free(s->acc);
    free(s->stamp);
    free(s->touched);
    free(s->best);
    free(s->apps);
    free(s);
}

/* ---- query ---- */

/* Levenshtein distance of a and b if it is at most k, else k + 1. */
static unsigned bounded_distance(const char *a, size_t la, const char *b, size_t lb, unsigned k) {
    unsigned row[WORD_MAX + 1], prev[WORD_MAX + 1];
    for (size_t j = 0; j <= lb; j++) prev[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = (unsigned)i;
        unsigned best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            unsigned sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            unsigned del = prev[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (row[j] < best) best = row[j];
        }
        if (best > k) return k + 1;
        memcpy(prev, row, (lb + 1) * sizeof row[0]);
    }
    return prev[lb] <= k ? prev[lb] : k + 1;
}

typedef struct word_match {
    uint32_t word;
    double sim;
} word_match;

/* The vocabulary words a query word stands for: itself, or its nearest misspellings. */
static size_t match_word(const title_resolver *r, const word *q, word_match *out) {
    uint32_t id = vocab_find(r, q->s, q->len);
    if (id != ROME_NONE) {
        out[0] = (word_match){id, 1.0};
        return 1;
    }
    if (q->len < 4) return 0;
    unsigned k = q->len >= 8 ? 2 : 1, best = k + 1;
    size_t n = 0;
    for (uint32_t w = 0; w < r->n_words; w++) {
        size_t lw = r->word_off[w + 1] - r->word_off[w];
        unsigned bound = best <= k ? best : k;
        if (lw > q->len + bound || q->len > lw + bound) continue;
        unsigned d = bounded_distance(q->s, q->len, r->pool + r->word_off[w], lw, bound);
        if (d > k || d > best) continue;
        if (d < best) {
            best = d;
            n = 0;
        }
        if (n < FUZZY_CANDIDATES) out[n++] = (word_match){w, d == 1 ? 0.8 : 0.6};
    }
    return n;
}

/* Better candidate first: higher confidence, then commonly used, then lower code. */
static bool better(const rome_index *idx, const title_match *a, const title_match *b) {
    if (a->confidence != b->confidence) return a->confidence > b->confidence;
    bool ra = idx->appellations[a->appellation].flags & ROME_APPELLATION_PEU_USITE;
    bool rb = idx->appellations[b->appellation].flags & ROME_APPELLATION_PEU_USITE;
    if (ra != rb) return rb;
    return a->appellation < b->appellation;
}

int title_resolve(const title_resolver *r, title_scratch *s, const char *title, title_match *out,
                  size_t max_out, px_error *err) {
    size_t len = strlen(title);
    if (len > TITLE_MAX_BYTES)
        return px_error_set(err, 2, "title is %zu bytes long, at most %u are accepted", len, TITLE_MAX_BYTES);
    word words[TITLE_MAX_WORDS];
    int nw = split_words(title, len, words, TITLE_MAX_WORDS);
    if (nw < 0) return px_error_set(err, 2, "title is not valid UTF-8");
    double q_weight = 0;
    size_t n_touched = 0;
    uint32_t n_query = 0;
    for (int i = 0; i < nw; i++) {
        if (words[i].stop) continue;
        bool repeat = false;
        for (int j = 0; j < i; j++) repeat |= !words[j].stop && words[j].len == words[i].len &&
                                              !memcmp(words[j].s, words[i].s, words[i].len);
        if (repeat) continue;
        n_query++;
        word_match m[FUZZY_CANDIDATES];
        size_t nm = match_word(r, &words[i], m);
        /* a misspelt word weighs what its most common reading weighs: between "caisiere" →
         * caissiere / chaisiere the frequent word must win, as a spelling corrector's prior would */
        double w = nm ? r->idf[m[0].word] : r->mean_idf;
        for (size_t c = 1; c < nm; c++)
            if (r->idf[m[c].word] < w) w = r->idf[m[c].word];
        q_weight += w;
        for (size_t c = 0; c < nm; c++) {
            double contrib = w * m[c].sim;
            for (uint32_t p = r->post_off[m[c].word]; p < r->post_off[m[c].word + 1]; p++) {
                uint32_t v = r->post[p];
                if (s->stamp[v] == n_query) continue;   /* this query word already counted here */
                if (s->acc[v] == 0) s->touched[n_touched++] = v;
                s->stamp[v] = n_query;
                s->acc[v] += contrib;
            }
        }
    }
    if (!n_query) return px_error_set(err, 2, "title has no word to look up");
    /* best variant per appellation */
    size_t n_apps = 0;
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t v = s->touched[t];
        double score = 2.0 * s->acc[v] / (q_weight + r->var_weight[v]);
        if (score > 1.0) score = 1.0;   /* fuzzy words share idf with their match: guard rounding */
        uint32_t a = r->var_app[v];
        if (s->best[a] == 0) s->apps[n_apps++] = a;
        if (score > s->best[a]) s->best[a] = score;
        s->acc[v] = 0;
        s->stamp[v] = 0;
    }
    size_t n_out = 0;
    for (size_t i = 0; i < n_apps; i++) {
        title_match cand = {s->apps[i], s->best[s->apps[i]]};
        s->best[s->apps[i]] = 0;
        if (!max_out) continue;
        if (n_out == max_out && !better(r->idx, &cand, &out[n_out - 1])) continue;
        size_t pos = n_out < max_out ? n_out++ : n_out - 1;
        while (pos > 0 && better(r->idx, &cand, &out[pos - 1])) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = cand;
    }
    return (int)n_out;
}
