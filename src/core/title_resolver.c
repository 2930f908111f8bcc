#include "title_resolver.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "px_array.h"

#define WORD_MAX         64u /* longer words are cut (no ROME word comes close) */
#define FUZZY_CANDIDATES 8u  /* vocabulary words kept per misspelt query word */
#define FUZZY_MIN_LEN    4u  /* shorter query words are never corrected */
#define FUZZY_LONG_LEN   8u  /* query words this long are corrected within distance 2 */
#define LABEL_WORDS      (TITLE_MAX_WORDS * 2)
#define EPS              1e-9 /* coverages and votes closer than this are equal */

/* A word of a label or a query: normalised bytes, whether it is a stop word, and whether it was
 * written in capitals (an acronym such as "ATSEM" in a label). */
typedef struct word {
    char s[WORD_MAX];
    uint8_t len;
    bool stop;
    bool upper;
} word;

struct title_resolver {
    const rome_index *idx;
    /* vocabulary: words in one pool, found through an open-addressing hash table */
    char *pool;
    uint32_t *word_off; /* n_words + 1 offsets into pool */
    double *idf;        /* per word */
    uint32_t n_words;
    uint32_t *table; /* word id + 1, 0 = empty */
    uint32_t table_mask;
    double mean_idf; /* weight of a query word found nowhere */
    uint32_t max_word_len;
    /* deletion index: the hash of every string a word gives by deleting 0, 1 (2 for words of 6+
     * letters) of its letters picks a bucket; a bucket lists those words (CSR, hash collisions
     * only add candidates, which the edit distance then checks) */
    uint32_t del_mask;
    uint32_t *del_off; /* del_mask + 2 offsets into del_words */
    uint32_t *del_words;
    /* variants: token sets, each belonging to one appellation */
    uint32_t n_variants;
    uint32_t *var_app;
    double *var_weight;   /* Σ idf of its words */
    uint8_t *var_len;     /* its number of words */
    uint8_t *var_acronym; /* 1: an acronym alone, which counts only as the whole title */
    uint32_t *post_off;   /* word → variants (CSR) */
    uint32_t *post;
    uint32_t *fiche_off; /* fiche → appellations (CSR, from each appellation's fiche) */
    uint32_t *fiche_apps;
};

struct title_scratch {
    /* per variant */
    double *acc;       /* matched weight */
    uint32_t *stamp;   /* last query word (1-based) that counted */
    uint8_t *hits;     /* query words matched */
    uint32_t *touched; /* variants with acc > 0 */
    /* per appellation, for its best variant (app_level > 0: touched) */
    uint8_t *app_level; /* query words it matches */
    uint8_t *app_extra; /* its words no query word matched */
    double *app_cov, *app_dice;
    uint32_t *apps;
    /* per fiche, over its appellations at its best level (f_level > 0: touched) */
    uint8_t *f_level;
    uint32_t *f_exact;      /* appellations without extra words */
    double *f_votes;        /* Σ coverage * 2^-extra */
    double *f_cov, *f_dice; /* best coverage, best dice */
    uint32_t *fiches;
    /* per vocabulary word: the fuzzy lookup that last saw it */
    uint32_t *word_seen;
    uint32_t epoch;
};

/* ---- normalisation ---- */

/* Decodes one UTF-8 sequence at s (len bytes left); returns its length or 0 when malformed. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xE0) == 0xC0   ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
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
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
        buf[0] = (char)cp;
        buf[1] = 0;
        return buf;
    }
    if (cp >= 'A' && cp <= 'Z') {
        buf[0] = (char)(cp - 'A' + 'a');
        buf[1] = 0;
        return buf;
    }
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

static bool is_upper(uint32_t cp) {
    return (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE) || cp == 0x152 || cp == 0xC6 ||
           cp == 0x178;
}

static bool is_lower(uint32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF) || cp == 0x153 || cp == 0xE6;
}

static bool is_stop_word(const char *s, size_t len) {
    static const char *const stops[] = {"a",   "au",  "aux",  "avec", "chez", "d",  "dans", "de",
                                        "des", "du",  "en",   "et",   "l",    "la", "le",   "les",
                                        "ou",  "par", "pour", "sur",  "un",   "une"};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
        if (strlen(stops[i]) == len && !memcmp(stops[i], s, len)) return true;
    return false;
}

/* Splits text into normalised words (at most max). A "(…)" glued to a letter, as in
 * "Vendeur(se)", is a gender suffix and is dropped. Returns the count, or -1 if not UTF-8. */
static int split_words(const char *text, size_t len, word *out, size_t max) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    word cur = {{0}, 0, false, false};
    unsigned n_upper = 0;
    bool lower = false, prev_letter = false;
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
            n_upper += is_upper(cp);
            lower |= is_lower(cp);
            prev_letter = true;
        } else {
            if (cur.len && n < max) {
                if (cur.len > 3 && (cur.s[cur.len - 1] == 's' || cur.s[cur.len - 1] == 'x'))
                    cur.len--;
                cur.s[cur.len] = 0;
                cur.stop = is_stop_word(cur.s, cur.len);
                cur.upper = n_upper >= 2 && !lower;
                out[n++] = cur;
            }
            cur.len = 0;
            n_upper = 0;
            lower = prev_letter = false;
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
        if (r->word_off[id + 1] - r->word_off[id] == len &&
            !memcmp(r->pool + r->word_off[id], s, len))
            return id;
    }
}

/* ---- deletion neighbourhoods ----
 * A polynomial hash lets every deletion of one or two letters be hashed in O(1) from prefix
 * hashes, without building the shortened strings: H(c_0..c_{m-1}) = Σ c_t · B^(m-1-t) mod 2^64. */

#define DEL_BASE 0x100000001B3ull

typedef struct del_hasher {
    uint64_t pre[WORD_MAX + 1]; /* pre[k] = H(s[0..k)) */
    uint64_t pow[WORD_MAX + 1]; /* B^k */
    size_t len;
} del_hasher;

static void del_init(del_hasher *h, const char *s, size_t len) {
    h->len = len;
    h->pre[0] = 0;
    h->pow[0] = 1;
    for (size_t k = 0; k < len; k++) {
        h->pre[k + 1] = h->pre[k] * DEL_BASE + (unsigned char)s[k];
        h->pow[k + 1] = h->pow[k] * DEL_BASE;
    }
}

/* H(s[a..b)) */
static uint64_t del_sub(const del_hasher *h, size_t a, size_t b) {
    return h->pre[b] - h->pre[a] * h->pow[b - a];
}

/* The bucket of s with the letters at i and j removed (i < j; j == len: only i; i == len: none). */
static uint32_t del_bucket(const del_hasher *h, size_t i, size_t j, uint32_t mask) {
    size_t n = h->len, m = n;
    uint64_t x;
    if (i >= n) {
        x = h->pre[n];
    } else if (j >= n) {
        x = h->pre[i] * h->pow[n - i - 1] + del_sub(h, i + 1, n);
        m = n - 1;
    } else {
        x = (h->pre[i] * h->pow[j - i - 1] + del_sub(h, i + 1, j)) * h->pow[n - j - 1] +
            del_sub(h, j + 1, n);
        m = n - 2;
    }
    x ^= (uint64_t)m << 56; /* the length of the string hashed */
    x ^= x >> 31;
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return (uint32_t)x & mask;
}

/* Calls visit(bucket) for the string itself and each of its deletions of up to depth letters.
 * Deleting either of two equal neighbours gives the same string: only the first is visited. */
typedef void (*del_visit)(void *ctx, uint32_t bucket);

static void for_each_deletion(const char *s, size_t len, unsigned depth, uint32_t mask,
                              del_visit visit, void *ctx) {
    del_hasher h;
    del_init(&h, s, len);
    visit(ctx, del_bucket(&h, len, len, mask));
    if (depth < 1) return;
    for (size_t i = 0; i < len; i++) {
        if (i && s[i] == s[i - 1]) continue;
        visit(ctx, del_bucket(&h, i, len, mask));
        if (depth < 2) continue;
        for (size_t j = i + 1; j < len; j++) {
            if (j > i + 1 && s[j] == s[j - 1]) continue;
            visit(ctx, del_bucket(&h, i, j, mask));
        }
    }
}

/* Deletion depth indexed for a vocabulary word: a query word of FUZZY_LONG_LEN+ letters looks
 * within distance 2, so words of FUZZY_LONG_LEN - 2 letters may be 2 edits away; shorter ones
 * within distance 1 of a query of FUZZY_MIN_LEN+ letters. */
static unsigned vocab_depth(size_t len) {
    return len >= FUZZY_LONG_LEN - 2 ? 2 : len >= FUZZY_MIN_LEN - 1 ? 1 : 0;
}

/* ---- building ---- */

/* Builder state: the vocabulary grows while labels are read. */
typedef struct builder {
    title_resolver *r;
    size_t pool_len, pool_cap, words_cap;
    uint32_t *df;
    uint32_t *var_tokens, *var_tok_off; /* variant → words (CSR, built incrementally) */
    size_t n_tokens, tokens_cap, apps_cap, offs_cap, flags_cap;
    uint32_t *fill; /* deletion index: fill cursor per bucket */
    uint32_t cur_word;
} builder;

static uint32_t vocab_add(builder *b, const char *s, size_t len) {
    title_resolver *r = b->r;
    uint32_t id = vocab_find(r, s, len);
    if (id != ROME_NONE) return id;
    if (px_array_reserve((void **)&r->pool, &b->pool_cap, b->pool_len + len, 1) ||
        px_array_reserve((void **)&r->word_off, &b->words_cap, (size_t)r->n_words + 2,
                         sizeof *r->word_off))
        return ROME_NONE;
    memcpy(r->pool + b->pool_len, s, len);
    r->word_off[r->n_words] = (uint32_t)b->pool_len;
    b->pool_len += len;
    r->word_off[r->n_words + 1] = (uint32_t)b->pool_len;
    id = r->n_words++;
    if (len > r->max_word_len) r->max_word_len = (uint32_t)len;
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
static int add_variant(builder *b, uint32_t app, const word *words, size_t n, uint32_t first_var,
                       bool acronym) {
    title_resolver *r = b->r;
    uint32_t ids[LABEL_WORDS];
    size_t k = 0;
    for (size_t i = 0; i < n && k < LABEL_WORDS; i++) {
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
        if (len == u && !memcmp(b->var_tokens + b->var_tok_off[v], ids, u * sizeof ids[0]))
            return 0;
    }
    size_t nv = r->n_variants;
    if (px_array_reserve((void **)&b->var_tokens, &b->tokens_cap, b->n_tokens + u,
                         sizeof *b->var_tokens) ||
        px_array_reserve((void **)&r->var_app, &b->apps_cap, nv + 1, sizeof *r->var_app) ||
        px_array_reserve((void **)&b->var_tok_off, &b->offs_cap, nv + 2, sizeof *b->var_tok_off) ||
        px_array_reserve((void **)&r->var_acronym, &b->flags_cap, nv + 1, 1))
        return -1;
    r->var_acronym[r->n_variants] = acronym;
    if (!r->n_variants) b->var_tok_off[0] = 0;
    memcpy(b->var_tokens + b->n_tokens, ids, u * sizeof ids[0]);
    b->n_tokens += u;
    r->var_app[r->n_variants] = app;
    b->var_tok_off[++r->n_variants] = (uint32_t)b->n_tokens;
    return 0;
}

/* Each acronym of a label ("ATSEM" in "… écoles maternelles (ATSEM)", "AVS" in "-AVS-") also
 * stands for the appellation on its own, as people write it. A label in capitals throughout is
 * not an acronym list (unless it is one word, which its own variant already covers). */
static int add_acronyms(builder *b, uint32_t app, const word *words, size_t n, uint32_t first_var) {
    size_t content = 0, upper = 0;
    for (size_t i = 0; i < n; i++) {
        content += !words[i].stop;
        upper += !words[i].stop && words[i].upper;
    }
    if (upper == content) return 0;
    for (size_t i = 0; i < n; i++)
        if (words[i].upper && !words[i].stop && add_variant(b, app, &words[i], 1, first_var, true))
            return -1;
    return 0;
}

/* "Régleur metteur / Régleuse metteuse au point" → masculine "régleur metteur au point" and
 * feminine "régleuse metteuse au point": the words after the slash that go beyond the masculine
 * part's length are the shared tail. */
static int add_label(builder *b, uint32_t app, const char *label, uint32_t first_var) {
    word left[LABEL_WORDS], right[LABEL_WORDS];
    const char *slash = strstr(label, " / ");
    int nl = split_words(label, slash ? (size_t)(slash - label) : strlen(label), left, LABEL_WORDS);
    if (nl < 0)
        return 0; /* a label that is not UTF-8 cannot be matched; the loader refuses those */
    if (!slash) {
        if (add_variant(b, app, left, (size_t)nl, first_var, false)) return -1;
        return add_acronyms(b, app, left, (size_t)nl, first_var);
    }
    int nr = split_words(slash + 3, strlen(slash + 3), right, LABEL_WORDS);
    if (nr < 0) return 0;
    if (add_variant(b, app, right, (size_t)nr, first_var, false) ||
        add_acronyms(b, app, right, (size_t)nr, first_var) ||
        add_acronyms(b, app, left, (size_t)nl, first_var))
        return -1;
    for (int i = nl; i < nr && (size_t)nl < LABEL_WORDS; i++) left[nl++] = right[i];
    return add_variant(b, app, left, (size_t)nl, first_var, false);
}

static void count_pair(void *ctx, uint32_t bucket) { ((builder *)ctx)->r->del_off[bucket + 1]++; }

static void store_pair(void *ctx, uint32_t bucket) {
    builder *b = ctx;
    b->r->del_words[b->fill[bucket]++] = b->cur_word;
}

/* The deletion index over the whole vocabulary, about two (deletion, word) pairs a bucket: a
 * lookup checks a word or two of other deletions, whose length or distance rules them out.
 * Counting sort by bucket; a word listed twice in a bucket (two deletions alike) is kept once. */
static int build_deletions(builder *b) {
    title_resolver *r = b->r;
    size_t n_pairs = 0;
    for (uint32_t w = 0; w < r->n_words; w++) {
        size_t len = r->word_off[w + 1] - r->word_off[w];
        unsigned d = vocab_depth(len);
        n_pairs += 1 + (d >= 1 ? len : 0) + (d >= 2 ? len * (len - 1) / 2 : 0); /* at most */
    }
    uint32_t buckets = 1024;
    while (buckets < n_pairs / 2) buckets *= 2;
    r->del_mask = buckets - 1;
    r->del_off = calloc((size_t)buckets + 2, sizeof *r->del_off);
    b->fill = malloc(((size_t)buckets + 1) * sizeof *b->fill);
    if (!r->del_off || !b->fill) return -1;
    for (uint32_t w = 0; w < r->n_words; w++) {
        size_t len = r->word_off[w + 1] - r->word_off[w];
        for_each_deletion(r->pool + r->word_off[w], len, vocab_depth(len), r->del_mask, count_pair,
                          b);
    }
    for (uint32_t k = 0; k < buckets; k++) r->del_off[k + 1] += r->del_off[k];
    r->del_words = malloc((r->del_off[buckets] ? r->del_off[buckets] : 1) * sizeof *r->del_words);
    if (!r->del_words) return -1;
    memcpy(b->fill, r->del_off, (size_t)buckets * sizeof *b->fill);
    for (uint32_t w = 0; w < r->n_words; w++) {
        size_t len = r->word_off[w + 1] - r->word_off[w];
        b->cur_word = w; /* words come in id order: a bucket's list is ascending */
        for_each_deletion(r->pool + r->word_off[w], len, vocab_depth(len), r->del_mask, store_pair,
                          b);
    }
    uint32_t u = 0;
    for (uint32_t k = 0; k < buckets; k++) {
        uint32_t start = u;
        for (uint32_t p = r->del_off[k]; p < r->del_off[k + 1]; p++)
            if (u == start || r->del_words[u - 1] != r->del_words[p])
                r->del_words[u++] = r->del_words[p];
        r->del_off[k] = start;
    }
    r->del_off[buckets] = u;
    free(b->fill);
    b->fill = NULL;
    uint32_t *shrunk = realloc(r->del_words, (u ? u : 1) * sizeof *r->del_words);
    if (shrunk) r->del_words = shrunk;
    return 0;
}

title_resolver *title_resolver_build(const rome_index *idx, px_error *err) {
    title_resolver *r = calloc(1, sizeof *r);
    builder b = {.r = r};
    uint32_t n_apps = idx->n.appellations;
    if (!r) goto nomem;
    r->idx = idx;
    uint32_t table_size = 1024;
    while (table_size < n_apps * 8u)
        table_size *= 2; /* labels bring fewer words than 4 per title */
    r->table_mask = table_size - 1;
    r->table = calloc(table_size, sizeof *r->table);
    if (!r->table) goto nomem;
    for (uint32_t a = 0; a < n_apps; a++) {
        const rome_appellation *ap = &idx->appellations[a];
        uint32_t first = r->n_variants;
        if (add_label(&b, a, rome_str(idx, ap->label_long), first) ||
            add_label(&b, a, rome_str(idx, ap->label_short), first))
            goto nomem;
        if (r->n_words * 2u > table_size) {
            px_error_set(err, PX_EINVAL, "title_resolver: vocabulary of %u words outgrew its table",
                         r->n_words);
            goto fail;
        }
    }
    /* document frequencies, idf, variant weights and lengths, postings */
    size_t nw1 = r->n_words ? r->n_words : 1, nv1 = r->n_variants ? r->n_variants : 1;
    b.df = calloc(nw1, sizeof *b.df);
    r->idf = malloc(nw1 * sizeof *r->idf);
    r->var_weight = malloc(nv1 * sizeof *r->var_weight);
    r->var_len = malloc(nv1);
    r->post_off = calloc((size_t)r->n_words + 1, sizeof *r->post_off);
    r->post = malloc((b.n_tokens ? b.n_tokens : 1) * sizeof *r->post);
    if (!r->var_app && !(r->var_app = malloc(sizeof *r->var_app))) goto nomem;
    if (!r->var_acronym && !(r->var_acronym = calloc(1, 1))) goto nomem;
    if (!b.df || !r->idf || !r->var_weight || !r->var_len || !r->post_off || !r->post) goto nomem;
    for (size_t t = 0; t < b.n_tokens; t++) b.df[b.var_tokens[t]]++;
    double idf_sum = 0;
    for (uint32_t w = 0; w < r->n_words; w++) {
        r->idf[w] = log(1.0 + (double)r->n_variants / b.df[w]);
        idf_sum += r->idf[w];
        r->post_off[w + 1] = r->post_off[w] + b.df[w];
    }
    r->mean_idf = r->n_words ? idf_sum / r->n_words : 1.0;
    memset(b.df, 0, nw1 * sizeof *b.df); /* reused as fill cursors */
    for (uint32_t v = 0; v < r->n_variants; v++) {
        r->var_weight[v] = 0;
        r->var_len[v] = (uint8_t)(b.var_tok_off[v + 1] - b.var_tok_off[v]);
        for (uint32_t t = b.var_tok_off[v]; t < b.var_tok_off[v + 1]; t++) {
            uint32_t w = b.var_tokens[t];
            r->var_weight[v] += r->idf[w];
            r->post[r->post_off[w] + b.df[w]++] = v;
        }
    }
    if (build_deletions(&b)) goto nomem;
    /* fiche → appellations, in appellation order */
    r->fiche_off = calloc((size_t)idx->n.fiches + 1, sizeof *r->fiche_off);
    r->fiche_apps = malloc((n_apps ? n_apps : 1) * sizeof *r->fiche_apps);
    if (!r->fiche_off || !r->fiche_apps) goto nomem;
    for (uint32_t a = 0; a < n_apps; a++) r->fiche_off[idx->appellations[a].fiche + 1]++;
    for (uint32_t f = 0; f < idx->n.fiches; f++) r->fiche_off[f + 1] += r->fiche_off[f];
    for (uint32_t a = 0; a < n_apps; a++)
        r->fiche_apps[r->fiche_off[idx->appellations[a].fiche]++] = a;
    for (uint32_t f = idx->n.fiches; f > 0; f--) r->fiche_off[f] = r->fiche_off[f - 1];
    r->fiche_off[0] = 0;
    free(b.df);
    free(b.var_tokens);
    free(b.var_tok_off);
    return r;
nomem:
    px_error_set(err, PX_ENOMEM, "title_resolver: out of memory while indexing %u appellations",
                 n_apps);
fail:
    free(b.df);
    free(b.var_tokens);
    free(b.var_tok_off);
    free(b.fill);
    title_resolver_free(r);
    return NULL;
}

void title_resolver_free(title_resolver *r) {
    if (!r) return;
    free(r->pool);
    free(r->word_off);
    free(r->idf);
    free(r->table);
    free(r->del_off);
    free(r->del_words);
    free(r->var_app);
    free(r->var_weight);
    free(r->var_len);
    free(r->var_acronym);
    free(r->post_off);
    free(r->post);
    free(r->fiche_off);
    free(r->fiche_apps);
    free(r);
}

size_t title_resolver_memory(const title_resolver *r) {
    size_t nw = r->n_words, nv = r->n_variants;
    size_t n_del = r->del_off ? r->del_off[(size_t)r->del_mask + 1] : 0;
    return sizeof *r + (r->word_off ? r->word_off[nw] : 0) + (nw + 1) * sizeof *r->word_off +
           nw * sizeof *r->idf + ((size_t)r->table_mask + 1) * sizeof *r->table +
           ((size_t)r->del_mask + 2) * sizeof *r->del_off + n_del * sizeof *r->del_words +
           nv * (sizeof *r->var_app + sizeof *r->var_weight + sizeof *r->var_len + 1) +
           (nw + 1) * sizeof *r->post_off + (r->post_off ? r->post_off[nw] : 0) * sizeof *r->post +
           ((size_t)r->idx->n.fiches + 1 + r->idx->n.appellations) * sizeof(uint32_t);
}

title_scratch *title_scratch_new(const title_resolver *r, px_error *err) {
    title_scratch *s = calloc(1, sizeof *s);
    size_t nv = r->n_variants ? r->n_variants : 1;
    size_t na = r->idx->n.appellations ? r->idx->n.appellations : 1;
    size_t nf = r->idx->n.fiches ? r->idx->n.fiches : 1;
    size_t nw = r->n_words ? r->n_words : 1;
    if (s) {
        s->acc = calloc(nv, sizeof *s->acc);
        s->stamp = calloc(nv, sizeof *s->stamp);
        s->hits = calloc(nv, 1);
        s->touched = malloc(nv * sizeof *s->touched);
        s->app_level = calloc(na, 1);
        s->f_level = calloc(nf, 1);
        s->app_cov = calloc(na, sizeof *s->app_cov);
        s->app_dice = calloc(na, sizeof *s->app_dice);
        s->app_extra = calloc(na, 1);
        s->apps = malloc(na * sizeof *s->apps);
        s->f_cov = calloc(nf, sizeof *s->f_cov);
        s->f_dice = calloc(nf, sizeof *s->f_dice);
        s->f_votes = calloc(nf, sizeof *s->f_votes);
        s->f_exact = calloc(nf, sizeof *s->f_exact);
        s->fiches = malloc(nf * sizeof *s->fiches);
        s->word_seen = calloc(nw, sizeof *s->word_seen);
    }
    if (!s || !s->app_level || !s->f_level || !s->acc || !s->stamp || !s->hits || !s->touched ||
        !s->app_cov || !s->app_dice || !s->app_extra || !s->apps || !s->f_cov || !s->f_dice ||
        !s->f_votes || !s->f_exact || !s->fiches || !s->word_seen) {
        title_scratch_free(s);
        px_error_set(err, PX_ENOMEM, "title_resolver: out of memory for a scratch area");
        return NULL;
    }
    return s;
}

void title_scratch_free(title_scratch *s) {
    if (!s) return;
    free(s->acc);
    free(s->stamp);
    free(s->hits);
    free(s->touched);
    free(s->app_level);
    free(s->f_level);
    free(s->app_cov);
    free(s->app_dice);
    free(s->app_extra);
    free(s->apps);
    free(s->f_cov);
    free(s->f_dice);
    free(s->f_votes);
    free(s->f_exact);
    free(s->fiches);
    free(s->word_seen);
    free(s);
}

/* ---- query: words ---- */

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

/* Fuzzy lookup state: the FUZZY_CANDIDATES lowest word ids at the nearest distance seen. */
typedef struct fuzzy {
    const title_resolver *r;
    title_scratch *s;
    const word *q;
    unsigned k, best;
    uint32_t found[FUZZY_CANDIDATES]; /* ascending */
    size_t n;
} fuzzy;

static void fuzzy_visit(void *ctx, uint32_t bucket) {
    fuzzy *f = ctx;
    const title_resolver *r = f->r;
    for (uint32_t p = r->del_off[bucket]; p < r->del_off[bucket + 1]; p++) {
        uint32_t w = r->del_words[p];
        if (f->s->word_seen[w] == f->s->epoch) continue;
        f->s->word_seen[w] = f->s->epoch;
        size_t lw = r->word_off[w + 1] - r->word_off[w];
        unsigned bound = f->best <= f->k ? f->best : f->k;
        if (lw > f->q->len + bound || f->q->len > lw + bound) continue;
        unsigned d = bounded_distance(f->q->s, f->q->len, r->pool + r->word_off[w], lw, bound);
        if (d > f->k || d > f->best) continue;
        if (d < f->best) {
            f->best = d;
            f->n = 0;
        }
        if (f->n == FUZZY_CANDIDATES && w > f->found[f->n - 1]) continue;
        size_t pos = f->n < FUZZY_CANDIDATES ? f->n++ : f->n - 1;
        while (pos > 0 && f->found[pos - 1] > w) {
            f->found[pos] = f->found[pos - 1];
            pos--;
        }
        f->found[pos] = w;
    }
}

/* The vocabulary words a query word stands for: itself, or its nearest misspellings (the first
 * FUZZY_CANDIDATES in vocabulary order, as a scan of the whole vocabulary would keep them). */
static size_t match_word(const title_resolver *r, title_scratch *s, const word *q,
                         word_match *out) {
    uint32_t id = vocab_find(r, q->s, q->len);
    if (id != ROME_NONE) {
        out[0] = (word_match){id, 1.0};
        return 1;
    }
    if (q->len < FUZZY_MIN_LEN) return 0;
    unsigned k = q->len >= FUZZY_LONG_LEN ? 2 : 1;
    if (q->len > r->max_word_len + k) return 0; /* nothing is that close */
    if (++s->epoch == 0) {
        memset(s->word_seen, 0, (r->n_words ? r->n_words : 1) * sizeof *s->word_seen);
        s->epoch = 1;
    }
    fuzzy f = {r, s, q, k, k + 1, {0}, 0};
    for_each_deletion(q->s, q->len, k, r->del_mask, fuzzy_visit, &f);
    for (size_t i = 0; i < f.n; i++) out[i] = (word_match){f.found[i], f.best == 1 ? 0.8 : 0.6};
    return f.n;
}

/* ---- query: ranking ---- */

static bool is_principale(const rome_index *idx, uint32_t a) {
    return idx->appellations[a].flags & ROME_APPELLATION_PRINCIPALE;
}

static bool is_rare(const rome_index *idx, uint32_t a) {
    return idx->appellations[a].flags & ROME_APPELLATION_PEU_USITE;
}

/* Fiche f before fiche g: it matches more words of the title, has more labels without extra
 * words, more votes (labels at that level, closer ones weighing more), a better dice. */
static bool fiche_better(const title_scratch *s, uint32_t f, uint32_t g) {
    if (s->f_level[f] != s->f_level[g]) return s->f_level[f] > s->f_level[g];
    if (s->f_exact[f] != s->f_exact[g]) return s->f_exact[f] > s->f_exact[g];
    if (fabs(s->f_votes[f] - s->f_votes[g]) > EPS) return s->f_votes[f] > s->f_votes[g];
    if (s->f_dice[f] != s->f_dice[g]) return s->f_dice[f] > s->f_dice[g];
    return f < g;
}

/* Appellation a before b within one fiche, both at the fiche's level: a label without extra
 * words (what the person wrote); else the fiche's principal appellation; else fewer extra
 * words; then commonly used, better dice, lower code. */
static bool app_better(const rome_index *idx, const title_scratch *s, uint32_t a, uint32_t b) {
    bool ea = s->app_extra[a] == 0, eb = s->app_extra[b] == 0;
    if (ea != eb) return ea;
    bool pa = is_principale(idx, a), pb = is_principale(idx, b);
    if (pa != pb) return pa;
    if (s->app_extra[a] != s->app_extra[b]) return s->app_extra[a] < s->app_extra[b];
    bool ra = is_rare(idx, a), rb = is_rare(idx, b);
    if (ra != rb) return rb;
    if (s->app_dice[a] != s->app_dice[b]) return s->app_dice[a] > s->app_dice[b];
    return a < b;
}

/* The fiche's share of the votes of the fiches at its level and at the best level (top): a
 * fiche that matches fewer words than the best competes with those too. Only fiches with a
 * label without extra words compete with one that has one (other fiches' longer labels do not
 * make an exact title ambiguous). */
static double fiche_share(const title_scratch *s, size_t n_fiches, uint32_t f, uint32_t top) {
    double total = 0;
    for (size_t i = 0; i < n_fiches; i++) {
        uint32_t g = s->fiches[i];
        if (s->f_level[g] != s->f_level[f] && s->f_level[g] != s->f_level[top]) continue;
        if (s->f_exact[f] && !s->f_exact[g]) continue;
        total += s->f_votes[g];
    }
    return total > 0 ? s->f_votes[f] / total : 1.0;
}

/* confidence = geometric mean of how much of the title is explained (coverage), how well the
 * words match both ways (dice) and how much this fiche owns the title (share). */
static double confidence(double cov, double dice, double share) {
    double c = sqrt(cov * dice * share);
    return c > 1.0 ? 1.0 : c;
}

/* Inserts x into the sorted list top[0..*n) of at most cap entries (better first). */
static void keep_best(uint32_t *top, size_t *n, size_t cap, uint32_t x, const title_scratch *s) {
    if (*n == cap && !fiche_better(s, x, top[*n - 1])) return;
    size_t pos = *n < cap ? (*n)++ : *n - 1;
    while (pos > 0 && fiche_better(s, x, top[pos - 1])) {
        top[pos] = top[pos - 1];
        pos--;
    }
    top[pos] = x;
}

/* The best appellation of fiche f at its level that out[0..n_out) does not hold, or ROME_NONE. */
static uint32_t fiche_pick(const title_resolver *r, const title_scratch *s, uint32_t f,
                           const title_match *out, size_t n_out) {
    uint32_t best = ROME_NONE;
    for (uint32_t k = r->fiche_off[f]; k < r->fiche_off[f + 1]; k++) {
        uint32_t a = r->fiche_apps[k];
        if (s->app_level[a] != s->f_level[f]) continue;
        bool held = false;
        for (size_t o = 0; o < n_out && !held; o++) held = out[o].appellation == a;
        if (!held && (best == ROME_NONE || app_better(r->idx, s, a, best))) best = a;
    }
    return best;
}

static void clear_query(title_scratch *s, size_t n_touched, size_t n_apps, size_t n_fiches) {
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t v = s->touched[t];
        s->acc[v] = 0;
        s->stamp[v] = 0;
        s->hits[v] = 0;
    }
    for (size_t i = 0; i < n_apps; i++) s->app_level[s->apps[i]] = 0;
    for (size_t i = 0; i < n_fiches; i++) s->f_level[s->fiches[i]] = 0;
}

int title_resolve(const title_resolver *r, title_scratch *s, const char *title, title_match *out,
                  size_t max_out, px_error *err) {
    const rome_index *idx = r->idx;
    size_t len = strlen(title);
    if (len > TITLE_MAX_BYTES)
        return px_error_set(err, PX_ELIMIT, "title is %zu bytes long, at most %u are accepted", len,
                            TITLE_MAX_BYTES);
    word words[TITLE_MAX_WORDS];
    int nw = split_words(title, len, words, TITLE_MAX_WORDS);
    if (nw < 0) return px_error_set(err, PX_EINVAL, "title is not valid UTF-8");
    double q_weight = 0;
    size_t n_touched = 0;
    uint32_t n_query = 0;
    for (int i = 0; i < nw; i++) {
        if (words[i].stop) continue;
        bool repeat = false;
        for (int j = 0; j < i; j++)
            repeat |= !words[j].stop && words[j].len == words[i].len &&
                      !memcmp(words[j].s, words[i].s, words[i].len);
        if (repeat) continue;
        n_query++;
        word_match m[FUZZY_CANDIDATES];
        size_t nm = match_word(r, s, &words[i], m);
        /* a misspelt word weighs what its most common reading weighs: between "caisiere" →
         * caissiere / chaisiere the frequent word must win, as a spelling corrector's prior
         * would */
        double w = nm ? r->idf[m[0].word] : r->mean_idf;
        for (size_t c = 1; c < nm; c++)
            if (r->idf[m[c].word] < w) w = r->idf[m[c].word];
        q_weight += w;
        for (size_t c = 0; c < nm; c++) {
            double contrib = w * m[c].sim;
            for (uint32_t p = r->post_off[m[c].word]; p < r->post_off[m[c].word + 1]; p++) {
                uint32_t v = r->post[p];
                if (s->stamp[v] == n_query) continue; /* this query word already counted here */
                if (s->acc[v] == 0) s->touched[n_touched++] = v;
                s->stamp[v] = n_query;
                s->acc[v] += contrib;
                s->hits[v]++;
            }
        }
    }
    if (!n_query) return px_error_set(err, PX_EINVAL, "title has no word to look up");
    /* each appellation: its best variant (most title words, fewest extra words, best dice) */
    size_t n_apps = 0;
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t v = s->touched[t];
        if (r->var_acronym[v] && s->hits[v] < n_query) continue; /* "CHU" beside other words */
        double cov = s->acc[v] / q_weight;
        double dice = 2.0 * s->acc[v] / (q_weight + r->var_weight[v]);
        if (dice > 1.0) dice = 1.0; /* fuzzy words share idf with their match: guard rounding */
        if (cov > 1.0) cov = 1.0;
        unsigned level = s->hits[v], extra = level < r->var_len[v] ? r->var_len[v] - level : 0;
        uint32_t a = r->var_app[v];
        if (s->app_level[a] == 0) {
            s->apps[n_apps++] = a;
        } else if (level < s->app_level[a] ||
                   (level == s->app_level[a] &&
                    (extra > s->app_extra[a] ||
                     (extra == s->app_extra[a] && dice <= s->app_dice[a])))) {
            continue;
        }
        s->app_level[a] = (uint8_t)level;
        s->app_extra[a] = (uint8_t)extra;
        s->app_cov[a] = cov;
        s->app_dice[a] = dice;
    }
    /* each fiche: what its appellations at its best level say */
    size_t n_fiches = 0;
    for (size_t i = 0; i < n_apps; i++) {
        uint32_t a = s->apps[i], f = idx->appellations[a].fiche;
        if (s->f_level[f] == 0) s->fiches[n_fiches++] = f;
        if (s->app_level[a] < s->f_level[f]) continue;
        if (s->app_level[a] > s->f_level[f]) {
            s->f_level[f] = s->app_level[a];
            s->f_exact[f] = 0;
            s->f_votes[f] = s->f_cov[f] = s->f_dice[f] = 0;
        }
        s->f_exact[f] += s->app_extra[a] == 0;
        s->f_votes[f] += s->app_cov[a] * ldexp(1.0, -(int)s->app_extra[a]);
        if (s->app_cov[a] > s->f_cov[f]) s->f_cov[f] = s->app_cov[a];
        if (s->app_dice[a] > s->f_dice[f]) s->f_dice[f] = s->app_dice[a];
    }
    /* the best fiches, each with its representative appellation */
    uint32_t top[TITLE_MAX_OUT];
    size_t cap = max_out < TITLE_MAX_OUT ? max_out : TITLE_MAX_OUT, n_top = 0;
    for (size_t i = 0; i < n_fiches && cap; i++) keep_best(top, &n_top, cap, s->fiches[i], s);
    size_t n_out = 0;
    for (size_t t = 0; t < n_top; t++) {
        uint32_t f = top[t];
        double conf = confidence(s->f_cov[f], s->f_dice[f], fiche_share(s, n_fiches, f, top[0]));
        if (n_out && conf > out[n_out - 1].confidence) conf = out[n_out - 1].confidence;
        uint32_t rep = fiche_pick(r, s, f, out, n_out);
        out[n_out++] = (title_match){rep, conf};
    }
    /* room left (few fiches): their other appellations, fiche by fiche */
    for (size_t t = 0; t < n_top && n_out < cap; t++) {
        uint32_t f = top[t], a;
        double share = fiche_share(s, n_fiches, f, top[0]);
        while (n_out < cap && (a = fiche_pick(r, s, f, out, n_out)) != ROME_NONE) {
            double conf = confidence(s->app_cov[a], s->app_dice[a], share);
            if (conf > out[n_out - 1].confidence) conf = out[n_out - 1].confidence;
            out[n_out++] = (title_match){a, conf};
        }
    }
    clear_query(s, n_touched, n_apps, n_fiches);
    return (int)n_out;
}
