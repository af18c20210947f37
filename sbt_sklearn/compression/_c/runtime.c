/* ---------------------------------------------------------------------------------------------
 * SBT inference runtime (written by sbt_sklearn's C export; the same for every model).
 *
 * The generated file defines SBT_USE_STEP_T, SBT_USE_FULL, SBT_USE_BASE (0 or 1) and SBT_PATCH
 * (steps per token, 1 for per-step tokens) before this part.
 * C99, no heap, nothing beyond <math.h> and <stdint.h> (plus <stddef.h> for NULL and size_t); single
 * precision in the network (a Cortex-M4 FPU has no double), double only for a few sums per output.
 * Sparse-binary layers stay bits: a mask bit per weight and a sign bit per kept weight, one float
 * gain per layer; y_o = gain * (sum of kept x_i with positive sign - sum with negative sign).
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    int32_t n_in, n_out;
    const uint32_t *mask;  /* n_out x n_in bits, row-major; bit j is bit (j & 31) of word j >> 5; NULL: dense */
    const uint32_t *sign;  /* one bit per kept weight, same order: 1 = negative weight */
    float gain;            /* the layer's gain (the embedding's includes sqrt(d)) */
    const float *weight;   /* dense layers: n_out x n_in floats, row-major */
    const float *bias;     /* n_out floats or NULL */
} sbt_linear_t;

enum { SBT_NORM_NONE = 0, SBT_NORM_LAYER = 1, SBT_NORM_AFFINE = 2 };

typedef struct {
    int32_t kind;       /* SBT_NORM_* */
    const float *a;     /* layer norm gain (NULL: 1) or the affine scale of a batch norm */
    const float *b;     /* layer norm bias (NULL: 0) or the affine shift */
    float eps;
} sbt_norm_t;

enum { SBT_ATTN_FULL = 0, SBT_ATTN_STEP_T = 1, SBT_ATTN_QKV_MASK = 2 };

typedef struct {
    sbt_linear_t q, k, v, o, ff1, ff2;
    sbt_norm_t norm1, norm2;
    const uint32_t *qkv_mask;  /* SBT_ATTN_QKV_MASK: 3 x max_steps x head_dim bits (Q, K, V) */
} sbt_layer_t;

typedef struct {
    int32_t n_channels, d, n_heads, n_layers, d_ff, n_out, attention, max_steps;
    sbt_linear_t embed;
    const float *pos_table;    /* learnable positions: max_steps x d floats; NULL: sinusoid */
    const sbt_layer_t *layers;
    sbt_linear_t decoder;
    const float *gate;         /* per-output scale or NULL */
} sbt_net_t;

/* The network's input row t (standardised, task transform applied) written into row[n_channels]. */
typedef void (*sbt_row_fn)(const void *ctx, int32_t t, float *row);

/* index of the lowest set bit of a non-zero word */
#if defined(__GNUC__) || defined(__clang__)
#define SBT_CTZ(w) ((uint32_t)__builtin_ctz(w))
#else
static uint32_t sbt_ctz(uint32_t w)
{
    uint32_t n = 0u;
    while (!(w & 1u)) {
        w >>= 1;
        ++n;
    }
    return n;
}
#define SBT_CTZ(w) sbt_ctz(w)
#endif

static void sbt_linear(const sbt_linear_t *l, const float *x, float *y)
{
    int32_t o, i;
    if (l->mask == NULL) {
        for (o = 0; o < l->n_out; ++o) {
            const float *w = l->weight + (size_t)o * (size_t)l->n_in;
            float acc = 0.0f;
            for (i = 0; i < l->n_in; ++i) {
                acc += w[i] * x[i];
            }
            y[o] = acc + (l->bias != NULL ? l->bias[o] : 0.0f);
        }
        return;
    }
    {
        /* only the kept weights are visited: the set bits of each mask word, lowest first; the
         * k-th kept weight's sign is bit k of the sign array */
        static const float sign_of[2] = {1.0f, -1.0f};
        const uint32_t n_in = (uint32_t)l->n_in;
        uint32_t k = 0u;
        for (o = 0; o < l->n_out; ++o) {
            const uint32_t j0 = (uint32_t)o * n_in, j1 = j0 + n_in;
            uint32_t wi;
            float acc = 0.0f;
            for (wi = j0 >> 5; (wi << 5) < j1; ++wi) {
                const uint32_t base = wi << 5;
                uint32_t w = l->mask[wi];
                if (base < j0) {
                    w &= ~0u << (j0 - base);  /* bits of the previous row */
                }
                if (j1 - base < 32u) {
                    w &= (1u << (j1 - base)) - 1u;  /* bits of the next row */
                }
                while (w != 0u) {
                    const uint32_t b = SBT_CTZ(w);
                    w &= w - 1u;
                    acc += x[base + b - j0] * sign_of[(l->sign[k >> 5] >> (k & 31u)) & 1u];
                    ++k;
                }
            }
            y[o] = l->gain * acc + (l->bias != NULL ? l->bias[o] : 0.0f);
        }
    }
}

static void sbt_norm(const sbt_norm_t *n, float *x, int32_t d)
{
    int32_t i;
    if (n->kind == SBT_NORM_AFFINE) {
        for (i = 0; i < d; ++i) {
            x[i] = x[i] * n->a[i] + n->b[i];
        }
    } else if (n->kind == SBT_NORM_LAYER) {
        float mean = 0.0f, var = 0.0f, inv;
        for (i = 0; i < d; ++i) {
            mean += x[i];
        }
        mean /= (float)d;
        for (i = 0; i < d; ++i) {
            float c = x[i] - mean;
            var += c * c;
        }
        var /= (float)d;
        inv = 1.0f / sqrtf(var + n->eps);
        for (i = 0; i < d; ++i) {
            float y = (x[i] - mean) * inv;
            x[i] = y * (n->a != NULL ? n->a[i] : 1.0f) + (n->b != NULL ? n->b[i] : 0.0f);
        }
    }
}

/* z[0..d) = embed(row) + position t */
static void sbt_embed(const sbt_net_t *net, const float *row, int32_t t, float *z)
{
    int32_t i;
    sbt_linear(&net->embed, row, z);
    if (net->pos_table != NULL) {
        const float *p = net->pos_table + (size_t)t * (size_t)net->d;
        for (i = 0; i < net->d; ++i) {
            z[i] += p[i];
        }
    } else {
        /* single precision throughout (no soft-float double on a Cortex-M4): the frequencies
         * exp(-2i log(10000) / d), then sin and cos of t times each */
        const float step = -logf(10000.0f) / (float)net->d;
        for (i = 0; 2 * i < net->d; ++i) {
            const float angle = (float)t * expf((float)(2 * i) * step);
            z[2 * i] += sinf(angle);
            if (2 * i + 1 < net->d) {
                z[2 * i + 1] += cosf(angle);
            }
        }
    }
}

/* z = norm2(y + ff2(relu(ff1(y)))) with y = norm1(z + attn); attn is overwritten */
static void sbt_finish_layer(const sbt_layer_t *L, int32_t d, float *z, float *attn, float *hidden)
{
    int32_t i;
    sbt_linear(&L->o, attn, hidden);
    for (i = 0; i < d; ++i) {
        z[i] += hidden[i];
    }
    sbt_norm(&L->norm1, z, d);
    sbt_linear(&L->ff1, z, hidden);
    for (i = 0; i < L->ff1.n_out; ++i) {
        hidden[i] = hidden[i] > 0.0f ? hidden[i] : 0.0f;
    }
    sbt_linear(&L->ff2, hidden, attn);
    for (i = 0; i < d; ++i) {
        z[i] += attn[i];
    }
    sbt_norm(&L->norm2, z, d);
}

/* the relu after the encoder, then the decoder and the output gate */
static void sbt_head(const sbt_net_t *net, float *z, float *out)
{
    int32_t i;
    for (i = 0; i < net->d; ++i) {
        z[i] = z[i] > 0.0f ? z[i] : 0.0f;
    }
    sbt_linear(&net->decoder, z, out);
    if (net->gate != NULL) {
        for (i = 0; i < net->n_out; ++i) {
            out[i] *= net->gate[i];
        }
    }
}

#if SBT_USE_STEP_T
/* Step-T attention, streamed: the network's output at the last of n rows.
 * Past rows attend only to themselves, so each goes through every layer on its own; the last
 * row attends to every past row. Layer by layer, the past rows are recomputed up to that layer
 * and folded into a running-max (online) softmax: working memory does not grow with n.
 * work: 8 d + d_ff + 2 n_heads + n_channels floats */
static void sbt_forward_step_t(const sbt_net_t *net, int32_t n, sbt_row_fn get_row, const void *ctx,
                               float *work, float *out)
{
    const int32_t d = net->d, h = net->n_heads, hd = net->d / net->n_heads;
    const int32_t hid = d > net->d_ff ? d : net->d_ff;
    float *zl = work, *zp = zl + d, *q = zp + d, *k = q + d, *v = k + d, *acc = v + d, *a = acc + d;
    float *tmp = a + d, *hidden = tmp + d, *m = hidden + hid, *s = m + h, *row = s + h;
    const float scale = 1.0f / sqrtf((float)hd);
    int32_t l, t, j, i, e;
    get_row(ctx, n - 1, row);
    sbt_embed(net, row, n - 1, zl);
    for (l = 0; l < net->n_layers; ++l) {
        const sbt_layer_t *L = &net->layers[l];
        sbt_linear(&L->q, zl, q);
        for (i = 0; i < h; ++i) {
            m[i] = -INFINITY;
            s[i] = 0.0f;
        }
        for (i = 0; i < d; ++i) {
            acc[i] = 0.0f;
        }
        for (t = 0; t < n - 1; ++t) {
            get_row(ctx, t, row);
            sbt_embed(net, row, t, zp);
            for (j = 0; j < l; ++j) {  /* a past row through the earlier layers: attention to itself */
                const sbt_layer_t *P = &net->layers[j];
                sbt_linear(&P->v, zp, tmp);
                sbt_finish_layer(P, d, zp, tmp, hidden);
            }
            sbt_linear(&L->k, zp, k);
            sbt_linear(&L->v, zp, v);
            for (i = 0; i < h; ++i) {
                const float *qh = q + i * hd, *kh = k + i * hd, *vh = v + i * hd;
                float *ah = acc + i * hd;
                float score = 0.0f;
                for (e = 0; e < hd; ++e) {
                    score += qh[e] * kh[e];
                }
                score *= scale;
                if (score > m[i]) {  /* a new maximum: rescale what was summed so far */
                    float r = expf(m[i] - score);
                    s[i] = s[i] * r + 1.0f;
                    for (e = 0; e < hd; ++e) {
                        ah[e] = ah[e] * r + vh[e];
                    }
                    m[i] = score;
                } else {
                    float w = expf(score - m[i]);
                    s[i] += w;
                    for (e = 0; e < hd; ++e) {
                        ah[e] += w * vh[e];
                    }
                }
            }
        }
        for (i = 0; i < h; ++i) {  /* one row alone has nothing to attend to: zeros */
            for (e = 0; e < hd; ++e) {
                a[i * hd + e] = n > 1 ? acc[i * hd + e] / s[i] : 0.0f;
            }
        }
        sbt_finish_layer(L, d, zl, a, hidden);
    }
    sbt_head(net, zl, out);
}

#endif /* SBT_USE_STEP_T */

#if SBT_USE_FULL
/* Attention over all n rows held in memory (full, step-T or Q/K/V-masked); the output is the
 * mean over the rows (classification) or the last row.
 * work: 5 n d + n + d + d_ff + n_channels floats */
static void sbt_forward_full(const sbt_net_t *net, int32_t n, sbt_row_fn get_row, const void *ctx, int32_t mean_head,
                             float *work, float *out)
{
    const int32_t d = net->d, h = net->n_heads, hd = net->d / net->n_heads;
    const int32_t hid = d > net->d_ff ? d : net->d_ff;
    float *Z = work, *Q = Z + (size_t)n * d, *K = Q + (size_t)n * d, *V = K + (size_t)n * d, *A = V + (size_t)n * d;
    float *p = A + (size_t)n * d, *hidden = p + n, *pooled = hidden + hid, *row = pooled + d;
    const float scale = 1.0f / sqrtf((float)hd);
    int32_t l, t, u, i, e;
    for (t = 0; t < n; ++t) {
        get_row(ctx, t, row);
        sbt_embed(net, row, t, Z + (size_t)t * d);
    }
    for (l = 0; l < net->n_layers; ++l) {
        const sbt_layer_t *L = &net->layers[l];
        for (t = 0; t < n; ++t) {
            sbt_linear(&L->q, Z + (size_t)t * d, Q + (size_t)t * d);
            sbt_linear(&L->k, Z + (size_t)t * d, K + (size_t)t * d);
            sbt_linear(&L->v, Z + (size_t)t * d, V + (size_t)t * d);
            if (net->attention == SBT_ATTN_QKV_MASK) {  /* one mask row per step, shared by the heads */
                float *dst[3];
                dst[0] = Q + (size_t)t * d;
                dst[1] = K + (size_t)t * d;
                dst[2] = V + (size_t)t * d;
                for (u = 0; u < 3; ++u) {
                    for (e = 0; e < hd; ++e) {
                        uint32_t bit = ((uint32_t)u * (uint32_t)net->max_steps + (uint32_t)t) * (uint32_t)hd + (uint32_t)e;
                        if (!((L->qkv_mask[bit >> 5] >> (bit & 31u)) & 1u)) {
                            for (i = 0; i < h; ++i) {
                                dst[u][i * hd + e] = 0.0f;
                            }
                        }
                    }
                }
            }
        }
        for (t = 0; t < n; ++t) {
            int32_t lo = 0, hi = n;  /* keys [lo, hi) */
            if (net->attention == SBT_ATTN_STEP_T) {
                if (t < n - 1) {
                    lo = t;
                    hi = t + 1;
                } else {
                    hi = n - 1;
                }
            }
            for (i = 0; i < h; ++i) {
                float *at = A + (size_t)t * d + i * hd;
                float mx = -INFINITY, sum = 0.0f;
                for (e = 0; e < hd; ++e) {
                    at[e] = 0.0f;
                }
                for (u = lo; u < hi; ++u) {
                    const float *qt = Q + (size_t)t * d + i * hd, *ku = K + (size_t)u * d + i * hd;
                    float score = 0.0f;
                    for (e = 0; e < hd; ++e) {
                        score += qt[e] * ku[e];
                    }
                    p[u] = score * scale;
                    if (p[u] > mx) {
                        mx = p[u];
                    }
                }
                for (u = lo; u < hi; ++u) {
                    p[u] = expf(p[u] - mx);
                    sum += p[u];
                }
                for (u = lo; u < hi; ++u) {
                    const float w = p[u] / sum, *vu = V + (size_t)u * d + i * hd;
                    for (e = 0; e < hd; ++e) {
                        at[e] += w * vu[e];
                    }
                }
            }
        }
        for (t = 0; t < n; ++t) {
            sbt_finish_layer(L, d, Z + (size_t)t * d, A + (size_t)t * d, hidden);
        }
    }
    if (mean_head) {
        for (i = 0; i < d; ++i) {
            pooled[i] = 0.0f;
        }
        for (t = 0; t < n; ++t) {
            for (i = 0; i < d; ++i) {
                float zi = Z[(size_t)t * d + i];
                pooled[i] += zi > 0.0f ? zi : 0.0f;
            }
        }
        for (i = 0; i < d; ++i) {
            pooled[i] /= (float)n;
        }
    } else {
        for (i = 0; i < d; ++i) {
            pooled[i] = Z[(size_t)(n - 1) * d + i];
        }
    }
    sbt_head(net, pooled, out);
}
#endif /* SBT_USE_FULL */

/* ---------------------------------------------------------------------------------------------
 * Input: a window of raw rows read in place (a ring buffer with a start index is accepted),
 * standardised per channel, then the task's transform.
 * ------------------------------------------------------------------------------------------- */
enum { SBT_IN_NONE = 0, SBT_IN_APPEND_ZERO = 1, SBT_IN_RELATIVE_APPEND_ZERO = 2, SBT_IN_ZERO_LAST = 3,
       SBT_IN_KEEP_LAST = 4 };

typedef struct {
    const float *x;             /* capacity rows of n_channels floats */
    int32_t n_steps, start, capacity, n_channels, mode;
    const float *mean, *scale;  /* the training scaler */
    const float *last;          /* the standardised last observed row */
} sbt_input_t;

/* standardised observed row r (0 = oldest) */
static void sbt_std_row(const sbt_input_t *in, int32_t r, float *row)
{
    int32_t c;
    const int64_t at = ((int64_t)in->start + (int64_t)r) % (int64_t)in->capacity;
    const float *src = in->x + (size_t)at * (size_t)in->n_channels;
    for (c = 0; c < in->n_channels; ++c) {
        row[c] = (src[c] - in->mean[c]) / in->scale[c];
    }
}

/* network input row t (sbt_row_fn) */
static void sbt_input_row(const void *ctx, int32_t t, float *row)
{
    const sbt_input_t *in = (const sbt_input_t *)ctx;
    int32_t c;
    int zero = (t >= in->n_steps)
               || (in->mode == SBT_IN_ZERO_LAST && t == in->n_steps - 1);
    if (zero) {
        for (c = 0; c < in->n_channels; ++c) {
            row[c] = 0.0f;
        }
        return;
    }
    sbt_std_row(in, t, row);
    if (in->mode == SBT_IN_RELATIVE_APPEND_ZERO) {
        for (c = 0; c < in->n_channels; ++c) {
            row[c] -= in->last[c];
        }
    }
}

#if SBT_PATCH > 1
/* network input token t (sbt_row_fn) of a model with patch tokens: rows t P ... t P + P - 1 one
 * after another (rows past the window are zero, the standardised mean) */
typedef struct {
    const sbt_input_t *in;
    int32_t patch;
} sbt_patch_input_t;

static void sbt_patch_row(const void *ctx, int32_t t, float *row)
{
    const sbt_patch_input_t *pi = (const sbt_patch_input_t *)ctx;
    int32_t j;
    for (j = 0; j < pi->patch; ++j) {
        sbt_input_row(pi->in, t * pi->patch + j, row + (size_t)j * (size_t)pi->in->n_channels);
    }
}
#endif /* SBT_PATCH > 1 */

#if SBT_USE_BASE
/* the linear base: [x_T, x_{T-1} - x_T, ..., x_{T-lags+1} - x_T] @ weight + bias, added to out */
static void sbt_add_base(const sbt_input_t *in, int32_t lags, const float *weight, const float *bias,
                         float *row, float *out)
{
    const int32_t c_n = in->n_channels;
    int32_t lag, c, o;
    float acc;
    for (o = 0; o < c_n; ++o) {
        acc = 0.0f;
        for (c = 0; c < c_n; ++c) {
            acc += in->last[c] * weight[(size_t)c * c_n + o];
        }
        row[o] = acc;
    }
    for (lag = 1; lag < lags; ++lag) {
        float *tmp = row + c_n;
        sbt_std_row(in, in->n_steps - 1 - lag, tmp);
        for (c = 0; c < c_n; ++c) {
            tmp[c] -= in->last[c];
        }
        for (o = 0; o < c_n; ++o) {
            acc = 0.0f;
            for (c = 0; c < c_n; ++c) {
                acc += tmp[c] * weight[((size_t)lag * c_n + c) * c_n + o];
            }
            row[o] += acc;
        }
    }
    for (o = 0; o < c_n; ++o) {
        out[o] += row[o] + bias[o];
    }
}
#endif /* SBT_USE_BASE */
