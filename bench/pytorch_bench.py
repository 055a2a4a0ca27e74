"""PyTorch baseline for `lightner bench`: the same model (BART with per-layer prompt prefixes and
the alpha-fused pointer head) at the same shapes, random weights, timed the same way (one
warm-up, then median and best of N). Plain PyTorch, no transformers: the point is the speed of the
same arithmetic. Greedy decoding uses a KV cache here too, so the comparison is like for like
(DeepKE itself recomputes the whole prefix every step).

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python bench/pytorch_bench.py --threads 2 --repeats 5
"""
import argparse, json, math, time
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--shape", default="bart-base", choices=["bart-base", "tiny"])
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

S = dict(d=768, layers=6, heads=12, ffn=3072, vocab=50265, L=10, P=800, B=16, src=40, tgt=12, C=12)
if a.shape == "tiny":
    S = dict(d=32, layers=2, heads=4, ffn=64, vocab=300, L=4, P=16, B=4, src=12, tgt=6, C=3)
d, N, H, FF, V, L, P, B, SL, TL, C = (S[k] for k in ["d", "layers", "heads", "ffn", "vocab", "L", "P", "B", "src", "tgt", "C"])
dh = d // H


def w(*shape):
    return torch.randn(*shape) * 0.02


def lin(i, o):
    return {"w": w(o, i), "b": w(o)}


def ln():
    return {"w": torch.ones(d) + w(d), "b": w(d)}


def attn():
    return {k: lin(d, d) for k in ["q", "k", "v", "o"]}


shared = w(V, d)
enc = {"pos": w(1026, d), "ln": ln(), "layers": [dict(sa=attn(), sa_ln=ln(), fc1=lin(d, FF), fc2=lin(FF, d), fl=ln()) for _ in range(N)]}
dec = {"pos": w(1026, d), "ln": ln(), "layers": [dict(sa=attn(), sa_ln=ln(), ca=attn(), ca_ln=ln(), fc1=lin(d, FF), fc2=lin(FF, d), fl=ln()) for _ in range(N)]}


def prompt_gen():
    g = {"emb": torch.randn(L, d), "m0": lin(d, P), "m2": lin(P, 2 * N * d)}
    for t in [g["emb"], g["m0"]["w"], g["m0"]["b"], g["m2"]["w"], g["m2"]["b"]]:
        t.requires_grad_(True)
    return g


prompts = [prompt_gen() for _ in range(3)]
params = [t for g in prompts for t in [g["emb"], g["m0"]["w"], g["m0"]["b"], g["m2"]["w"], g["m2"]["b"]]]
opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)


def L_(x, l):
    return F.linear(x, l["w"], l["b"])


def prefixes(g):
    x = L_(torch.tanh(L_(g["emb"], g["m0"])), g["m2"]).view(L, 2 * N, H, dh)
    return [(x[:, 2 * i].transpose(0, 1)[None], x[:, 2 * i + 1].transpose(0, 1)[None]) for i in range(N)]


def split(x):
    b, t, _ = x.shape
    return x.view(b, t, H, dh).transpose(1, 2)


def attend(a, x, k, v, mask):
    b, t, _ = x.shape
    q = split(L_(x, a["q"])) * dh ** -0.5
    s = q @ k.transpose(2, 3)
    if mask is not None:
        s = s.masked_fill(mask, torch.finfo(s.dtype).min)
    return L_((s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d), a["o"])


def kv(a, z, pre):
    k, v = split(L_(z, a["k"])), split(L_(z, a["v"]))
    b = z.shape[0]
    return torch.cat([pre[0].expand(b, -1, -1, -1), k], 2), torch.cat([pre[1].expand(b, -1, -1, -1), v], 2)


def LN(x, l):
    return F.layer_norm(x, (d,), l["w"], l["b"], 1e-5)


def encode(ids, pad, pre):
    b, s = ids.shape
    x = LN(shared[ids] + enc["pos"][2:2 + s], enc["ln"])
    m = torch.cat([torch.zeros(b, L, dtype=torch.bool), pad], 1)[:, None, None, :]
    for i, l in enumerate(enc["layers"]):
        k, v = kv(l["sa"], x, pre[i])
        x = LN(x + attend(l["sa"], x, k, v, m), l["sa_ln"])
        x = LN(x + L_(F.gelu(L_(x, l["fc1"])), l["fc2"]), l["fl"])
    return x


def decode(ids, e, src_pad, pre_s, pre_c):
    b, t = ids.shape
    x = LN(shared[ids] + dec["pos"][2:2 + t], dec["ln"])
    causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    ms = torch.cat([torch.zeros(t, L, dtype=torch.bool), causal], 1)[None, None]
    mc = torch.cat([torch.zeros(b, L, dtype=torch.bool), src_pad], 1)[:, None, None, :]
    for i, l in enumerate(dec["layers"]):
        k, v = kv(l["sa"], x, pre_s[i])
        x = LN(x + attend(l["sa"], x, k, v, ms), l["sa_ln"])
        k, v = kv(l["ca"], e, pre_c[i])
        x = LN(x + attend(l["ca"], x, k, v, mc), l["ca_ln"])
        x = LN(x + L_(F.gelu(L_(x, l["fc1"])), l["fc2"]), l["fl"])
    return x


label_ids = torch.arange(100, 100 + C)


def head(h, e, src, invalid, alpha=0.5):
    b, t, _ = h.shape
    eos = h @ shared[2][:, None]
    lab = h @ shared[label_ids].T
    fused = alpha * e + (1 - alpha) * shared[src]
    words = (h @ fused.transpose(1, 2)).masked_fill(invalid[:, None, :], torch.finfo(h.dtype).min)
    bos = torch.full((b, t, 1), torch.finfo(h.dtype).min)
    return torch.cat([bos, eos, lab, words], 2)


src = torch.randint(100 + C, min(V, 100 + C + 5000), (B, SL))
src[:, 0], src[:, -1] = 0, 2
src_pad = torch.zeros(B, SL, dtype=torch.bool)
invalid = torch.zeros(B, SL, dtype=torch.bool)
invalid[:, 0] = invalid[:, -1] = True
dec_ids = torch.randint(100 + C, min(V, 100 + C + 5000), (B, TL - 1))
targets = torch.randint(C + 3, C + 2 + SL - 1, (B, TL - 1))


def forward():
    ps = [prefixes(g) for g in prompts]
    e = encode(src, src_pad, ps[0])
    h = decode(dec_ids, e, src_pad, ps[1], ps[2])
    return head(h, e, src, invalid)


def timeit(f):
    f()
    ts = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t) * 1e3)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


def fwd_only():
    with torch.no_grad():
        forward()


def fwd_bwd():
    loss = F.cross_entropy(forward().reshape(-1, C + 2 + SL), targets.reshape(-1))
    loss.backward()
    for t in params:
        t.grad = None


def step():
    loss = F.cross_entropy(forward().reshape(-1, C + 2 + SL), targets.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()


def greedy():
    with torch.no_grad():
        ps = [prefixes(g) for g in prompts]
        e = encode(src, src_pad, ps[0])
        mc = torch.cat([torch.zeros(B, L, dtype=torch.bool), src_pad], 1)[:, None, None, :]
        cache = []
        for i, l in enumerate(dec["layers"]):
            ck, cv = kv(l["ca"], e, ps[2][i])
            cache.append([ps[1][i][0].expand(B, -1, -1, -1), ps[1][i][1].expand(B, -1, -1, -1), ck, cv])
        max_len = math.floor(0.8 * SL) + 10
        ids = torch.zeros(B, 1, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        n = 0
        for pos in range(max_len - 1):
            x = LN(shared[ids] + dec["pos"][2 + pos:3 + pos], dec["ln"])
            for i, l in enumerate(dec["layers"]):
                c = cache[i]
                c[0] = torch.cat([c[0], split(L_(x, l["sa"]["k"]))], 2)
                c[1] = torch.cat([c[1], split(L_(x, l["sa"]["v"]))], 2)
                x = LN(x + attend(l["sa"], x, c[0], c[1], None), l["sa_ln"])
                x = LN(x + attend(l["ca"], x, c[2], c[3], mc), l["ca_ln"])
                x = LN(x + L_(F.gelu(L_(x, l["fc1"])), l["fc2"]), l["fl"])
            y = head(x, e, src, invalid).argmax(-1)[:, 0]
            if pos + 2 == max_len:
                y[:] = 1
            y[done] = 1
            n += int((~done).sum())
            done |= y == 1
            tok = torch.where(y < C + 2, torch.tensor(100), src.gather(1, (y - C - 2).clamp(0, SL - 1)[:, None])[:, 0])
            ids = tok[:, None]
            if bool(done.all()):
                break
        return n


res = {"shape": S, "threads": a.threads, "repeats": a.repeats, "torch": torch.__version__}
res["forward_ms"] = timeit(fwd_only)
res["fwd_bwd_ms"] = timeit(fwd_bwd)
res["train_step_ms"] = timeit(step)
res["greedy_tokens"] = greedy()
res["greedy_ms"] = timeit(greedy)
print(json.dumps(res, indent=1))
