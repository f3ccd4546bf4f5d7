#!/usr/bin/env python3
"""The PyTorch peer of `learner bench train`: the concept model's shape in PyTorch eager (CPU).

Same sizes as the learner's preset: a pre-norm transformer encoder (key padding, exact GELU,
final LayerNorm, the [CLS] summary), the word-bag reader (mean of a word table over word tokens,
LayerNorm), 2 VQ heads and 2 residual VQ stages with straight-through codes, the op/relation
controller MLP over [reader; codes] and the pointer MLP over the summary. The typed reasoner
is not reproduced: a cross-entropy on the controller row stands in for it, so the peer does
*less* work per step than the learner. AdamW with gradient clipping, as the learner (no EMA).

Prints the median step time and examples/s after 2 warm-up steps, like `learner bench train`.
"""
import argparse, math, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, ffn * d), nn.Linear(ffn * d, d)
        self.heads = heads

    def forward(self, x, pad):  # x: [B, T, D], pad: [B, T] True where padding
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        mask = torch.zeros(B, 1, 1, T).masked_fill(pad[:, None, None, :], float("-inf"))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Peer(nn.Module):
    def __init__(self, vocab, T, d, layers, heads, slots=4, places=4, codes=16, dc=16, hidden=64, vq_heads=2, stages=2):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(T, d)
        self.place, self.slot = nn.Embedding(places + 2, d), nn.Embedding(slots + 2, d)
        self.layers = nn.ModuleList(Layer(d, heads, 4) for _ in range(layers))
        self.lnf = nn.LayerNorm(d)
        self.words, self.wln = nn.Embedding(vocab, d), nn.LayerNorm(d)
        self.vq_proj = nn.ModuleList(nn.Linear(d, dc) for _ in range(vq_heads))
        self.res_proj = nn.Linear(d, dc)
        self.books = nn.ParameterList(nn.Parameter(torch.randn(codes, dc)) for _ in range(vq_heads + stages))
        self.vq_heads, self.stages = vq_heads, stages
        out_w = 2 * slots + 6 + 7 + 1 + 2 + places * 10
        self.ctrl = nn.Sequential(nn.Linear(d + (vq_heads + 1) * dc, hidden), nn.GELU(), nn.Linear(hidden, out_w))
        self.ptr = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, 2 * slots + 6))

    @staticmethod
    def quantise(z, book):  # nearest code, straight-through; returns (code, vq loss)
        idx = torch.cdist(z, book).argmin(dim=1)
        e = book[idx]
        loss = F.mse_loss(e, z.detach()) + 0.25 * F.mse_loss(z, e.detach())
        return z + (e - z).detach(), loss

    def forward(self, tokens, places, slots, pad, word_w):
        B, T = tokens.shape
        x = self.tok(tokens) + self.pos(torch.arange(T))[None] + self.place(places) + self.slot(slots)
        for layer in self.layers:
            x = layer(x, pad)
        s = self.lnf(x)[:, 0]
        u = self.wln(torch.einsum("bt,btd->bd", word_w, self.words(tokens)))
        parts, vq = [u], 0.0
        for p in range(self.vq_heads):
            q, l = self.quantise(self.vq_proj[p](u), self.books[p]); parts.append(q); vq = vq + l
        r, total = self.res_proj(u), 0
        for st in range(self.stages):
            q, l = self.quantise(r, self.books[self.vq_heads + st]); vq = vq + l
            total = total + q; r = r - q.detach()
        parts.append(total)
        out = self.ctrl(torch.cat(parts, dim=1))
        ptr = self.ptr(s)
        return torch.cat([ptr, out[:, ptr.shape[1]:]], dim=1), vq


def batch(B, T, vocab, g):
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    pad = torch.arange(T)[None] >= lengths[:, None]
    tokens = torch.randint(13, vocab, (B, T), generator=g).masked_fill(pad, 0)
    tokens[:, 0] = 2
    slots = torch.zeros(B, T, dtype=torch.long); places = torch.zeros(B, T, dtype=torch.long)
    for k, at in enumerate((3, 8, 12)):  # three two-digit numbers per question
        slots[:, at:at + 2] = k + 1; places[:, at] = 2; places[:, at + 1] = 1
    word = (~pad) & (slots == 0); word[:, 0] = False
    word_w = word.float() / word.float().sum(1, keepdim=True).clamp(min=1)
    return tokens, places, slots, pad, word_w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d_model", type=int, default=64)
    ap.add_argument("--batch_size", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=170)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(1)
    model = Peer(a.vocab, a.seq, a.d_model, a.layers, a.heads)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    data = [batch(a.batch_size, a.seq, a.vocab, g) for _ in range(4)]
    targets = torch.randint(0, 64, (a.batch_size,), generator=g)
    times = []
    for i in range(a.steps + 2):
        t0 = time.perf_counter()
        out, vq = model(*data[i % 4])
        loss = F.cross_entropy(out, targets) + 0.1 * vq
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(times)
    print(f"| torch {torch.__version__} eager ({a.threads} threads) | fp32 | {med:.1f} | {a.batch_size / (med / 1000):.0f} |")


if __name__ == "__main__":
    main()
