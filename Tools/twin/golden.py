#!/usr/bin/env python3
"""Golden-tensor check of the PyTorch twin (issue 16): the concept model written again in PyTorch,
run on a batch `learner golden` dumped, compared tensor by tensor with what the Swift model
computed on the CPU backend.

usage: golden.py CHECKPOINT.safetensors DUMP.safetensors [--float64] [--rtol_out R] [--rtol_grad R]
                 [--atol_out A]

The twin is built from the checkpoint alone: its model config and options (metadata) and its
weights (`model.*`, or `ema.*` when the dump says the EMA weights were used). Every width (slots,
places, ops, relations, output row) comes from the config and the weight shapes. From the dump it
reads the batch (tokens, places, slots, lengths, targets, programs), the names of the reasoner's
ops and relations in logit order, and, where two VQ codes tie to rounding, Swift's choice;
everything else it computes itself: digit tokens folded to one, positions counting a number as one
word, the numbers as digits, the word bag, the encoder, VQ, both controllers, the typed reasoner's
soft mode over digit distributions, the decoder, every loss, then the gradients by autograd. The
setup it derives (loss settings at the dump's step, the ops the grade offers, the worked-solution
heads) is checked against what the Swift side says it used. Each compared tensor prints one line

    name  max|err|  rel (max|err| / scale)  scale  tol used  ok

(scale = the largest magnitude of the Swift tensor); the last line is `golden: PASS` or
`golden: FAIL (...)`, and the exit status is 1 on failure.

Tolerances (Docs/BENCHMARKS.md, "Golden-tensor check of the PyTorch twin"): outputs, activations
and losses within 1e-4 of their tensor's scale plus 1e-6 (per-question losses and probabilities:
plus two float32 spacings of the row's largest logit); parameter gradients within 1e-3 of their
scale, taken through the twin's backward fed Swift's gradient at the controller row (the "chain"),
that row gradient itself within 1e-3 of its scale plus two logit spacings over the batch. The
end-to-end gradients (the twin's own row gradient) are printed beside the chain ones. Both sides
compute in float32 with different summation orders, so elements differ by rounding; a wrong op,
mask, constant or loss term moves a tensor by a sizeable fraction of its scale.
"""
import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.numpy import load_file

# The ops and relations the twin knows, by the Swift names (`StepOp.name`, `Relation.name`). Their
# order in the logit row comes from the dump; a name missing here stops the check (teach it here).
UNARY_STEPS = {"id": 0, "successor": 1, "predecessor": -1, "add_2": 2, "subtract_2": -2}
DIGIT_OPS = {"ones_digit": 0, "tens_digit": 1, "hundreds_digit": 2}   # the place whose digit A gives
BINARY_OPS = {"add", "subtract", "next_term", "place_value", "total"}
ORDER_FREE_OPS = {"between"}
RELATIONS = {"equal", "greater", "smaller", "same_parity", "same_tens", "same_ones", "makes_ten", "even", "odd"}
GRADE2_RELATIONS = {"even", "odd"}  # a Grade 1 model is not offered them
UNARY_RELATIONS = {"even", "odd"}   # relations that do not read operand B

FLOOR = 1e-4      # the decoder's probability floor (`ReasonerLimits.floor`)
LN_EPS = 1e-5     # `LayerNormLayer.eps`
MASKED = -1e30    # logit of a choice a softmax leaves out


# ---------------------------------------------------------------------------------------------
# Numbers as the reasoner holds them: `places` digits, ones first. The twin computes ops on the
# integer values and checks the range, where the Swift kernel carries and borrows digit by digit.

def value_of(digits):
    return sum(d * 10 ** p for p, d in enumerate(digits))


def digits_of(v, places):
    return [(v // 10 ** p) % 10 for p in range(places)]


def fits(v, places):
    return 0 <= v < 10 ** places


def step_op(name, a, c, others, places):
    """Value of op `name` on A = a (and C = c), `others` the values of the question's other
    numbers; None where it has none."""
    if name in UNARY_STEPS:
        v = a + UNARY_STEPS[name]
        return v if fits(v, places) else None
    if name in DIGIT_OPS:
        place = DIGIT_OPS[name]
        return digits_of(a, places)[place] if place < places else 0
    if name == "between":
        # A + 1 when another number is A + 2, else A - 1 when another is A - 2.
        for outer, inner in ((a + 2, a + 1), (a - 2, a - 1)):
            if fits(outer, places) and outer in others:
                return inner
        return None
    if name == "add":
        v = a + c
    elif name == "subtract":
        v = a - c
    elif name == "next_term":
        if not fits(2 * a, places):
            return None
        v = 2 * a - c
    elif name == "place_value":
        if not 1 <= c <= 9:
            return None
        da = digits_of(a, places)
        at = [p for p in range(places) if da[p] == c]
        if not at:
            return None
        v = c * 10 ** max(at)
    else:
        raise KeyError(name)
    return v if fits(v, places) else None


def relation_holds(name, a, b, places):
    da, db = digits_of(a, places), digits_of(b, places)
    if name == "equal":
        return a == b
    if name == "greater":
        return a > b
    if name == "smaller":
        return a < b
    if name == "same_parity":
        return da[0] % 2 == db[0] % 2
    if name == "same_tens":
        return places > 1 and da[1] == db[1]
    if name == "same_ones":
        return da[0] == db[0]
    if name == "makes_ten":
        return da[0] + db[0] == 10
    if name == "even":
        return da[0] % 2 == 0
    if name == "odd":
        return da[0] % 2 == 1
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# The batch as the model reads it.

def read_numbers(tokens, places_in, slots_in, lengths, digit_ids, S, P):
    """[B, S, P] digits (ones first), -1 where a slot holds no number or one wider than P."""
    B, T = tokens.shape
    digit_of = {int(t): d for d, t in enumerate(digit_ids)}
    out = np.full((B, S, P), -1, dtype=np.int64)
    for b in range(B):
        seen, wide = [False] * S, [False] * S
        digits = np.zeros((S, P), dtype=np.int64)
        for t in range(min(T, int(lengths[b]))):
            slot, place, tok = int(slots_in[b, t]), int(places_in[b, t]), int(tokens[b, t])
            if not (1 <= slot <= S and place >= 1 and tok in digit_of):
                continue
            seen[slot - 1] = True
            if place <= P:
                digits[slot - 1, place - 1] = digit_of[tok]
            else:
                wide[slot - 1] = True
        for k in range(S):
            if seen[k] and not wide[k]:
                out[b, k] = digits[k]
    return out


def word_positions(slots_in):
    """A number's digits share one position: the words after it do not move with its width."""
    B, T = slots_in.shape
    pos = np.zeros((B, T), dtype=np.int64)
    for b in range(B):
        p = -1
        for t in range(T):
            if not (t > 0 and slots_in[b, t] > 0 and slots_in[b, t] == slots_in[b, t - 1]):
                p += 1
            pos[b, t] = p
    return pos


def word_weights(slots_in, lengths):
    """1/n on each of a question's n word tokens after [CLS] (not digits, not padding)."""
    B, T = slots_in.shape
    w = np.zeros((B, T))
    for b in range(B):
        n = min(T, int(lengths[b]))
        words = [t for t in range(1, max(1, n)) if slots_in[b, t] == 0]
        for t in words:
            w[b, t] = 1.0 / len(words)
    return w


# ---------------------------------------------------------------------------------------------
# The model.

def linear(x, prm, name):
    return x @ prm[name + ".weight"] + prm[name + ".bias"]


def layer_norm(x, prm, name):
    return F.layer_norm(x, (x.shape[-1],), prm[name + ".weight"], prm[name + ".bias"], eps=LN_EPS)


def gelu(x):
    return F.gelu(x)  # exact: x * Phi(x) with erf


def masked_softmax(x, mask):
    """Softmax over the entries where mask is true; all zeros where none is."""
    p = torch.softmax(x.masked_fill(~mask, MASKED), dim=-1)
    return p * mask.to(x.dtype)


def entropy(p):
    """-sum p log p over the entries with p > 0."""
    pos = p > 0
    return -(p * torch.log(torch.where(pos, p, torch.ones_like(p)))).sum(-1)


class Twin:
    def __init__(self, checkpoint, weights, dtype, op_names=None, relation_names=None):
        tensors = load_file(checkpoint)
        with safe_open(checkpoint, framework="numpy") as f:
            meta = f.metadata() or {}
        self.cfg = json.loads(meta["model_config"])
        self.options = json.loads(meta["options"])
        self.step = int(meta.get("step", "0"))
        prefix = weights + "."
        if not any(k.startswith(prefix) for k in tensors):
            prefix = "model."
        self.prm = {k[len(prefix):]: torch.tensor(v, dtype=dtype, requires_grad=True)
                    for k, v in tensors.items() if k.startswith(prefix)}
        self.dtype = dtype
        c = self.cfg
        # Sizes: the config's, with ModelConfig's defaults for keys an older build did not write.
        self.D = c.get("dModel", 64)
        self.L = c.get("layers", 2)
        self.H = c.get("heads", 4)
        self.S = c.get("slots", 4)
        self.P = c.get("places", 4)
        self.Dc = c.get("codeDim", 16)
        self.VH = c.get("vqHeads", 2)
        self.VS = c.get("vqStages", 2)
        self.beta = c.get("vqBeta", 0.25)
        self.grade = c.get("grade", 1)
        self.digit_ids = c["digitTokenIds"]
        # Ops and relations from the weight shapes: the pointer controller writes pointers A, B, C
        # and the ops; the op/relation controller's row adds relations, STOP, yes/no and digits.
        self.pointer_cols = self.prm["pointers.fc2.bias"].shape[0]
        self.out_w = self.prm["controller.fc2.bias"].shape[0]
        self.U = self.pointer_cols - 3 * self.S
        self.R = self.out_w - self.pointer_cols - 1 - 2 - 10 * self.P
        self.op_names = op_names
        self.relation_names = relation_names
        if len(op_names) != self.U or len(relation_names) != self.R:
            print(f"golden: FAIL (the checkpoint's row has {self.U} ops and {self.R} relations, "
                  f"the dump names {len(op_names)} and {len(relation_names)})")
            sys.exit(1)
        unknown = [n for n in op_names if n not in UNARY_STEPS and n not in DIGIT_OPS and n not in BINARY_OPS
                   and n not in ORDER_FREE_OPS]
        unknown += [n for n in relation_names if n not in RELATIONS]
        if unknown:
            print(f"golden: FAIL (the twin does not know {unknown}: add them to Tools/twin/golden.py)")
            sys.exit(1)
        self.binary = [n in BINARY_OPS for n in op_names]
        # Grade 1 is offered its one-number ops (not the digit ops) and its pair relations only;
        # Grade 2 every op and relation.
        self.offered = [True] * self.U if self.grade >= 2 else [n in UNARY_STEPS or n in ORDER_FREE_OPS for n in op_names]
        self.offered_relations = [self.grade >= 2 or n not in GRADE2_RELATIONS for n in relation_names]
        # Row layout.
        S, U, R = self.S, self.U, self.R
        self.oA, self.oB, self.oC, self.oU = 0, S, 2 * S, 3 * S
        self.oR = self.oU + U
        self.oStop = self.oR + R
        self.oYN = self.oStop + 1
        self.oDig = self.oYN + 2
        # Worked-solution heads: (first column, width, program column).
        self.program_heads = [(0, S, 0), (S, S, 1), (3 * S, U, 2), (3 * S + U, R, 3), (2 * S, S, 4)]

    def loss_settings(self, step):
        o = self.options
        half = max(1, o["steps"] // 2)
        anneal = max(0.2, 1 - (step - 1) / half)
        return {"labelSmoothing": o["labelSmoothing"], "lambdaVQ": o["lambdaVQ"], "lambdaStop": o["lambdaStop"],
                "lambdaEntropy": o["lambdaEntropy"] * anneal, "lambdaProgram": o.get("lambdaProgram", 0)}

    # ---- encoder and word reader -----------------------------------------------------------

    def encoder(self, tok, place_ids, pos_ids, slot_ids, lengths):
        prm, D, H = self.prm, self.D, self.H
        B, T = tok.shape
        Dh = D // H
        x = (prm["embed.tokens"][tok] + prm["embed.positions"][pos_ids] + prm["embed.places"][place_ids]
             + prm["embed.slots"][slot_ids])
        keys = torch.arange(T)[None, :] < lengths[:, None]                      # [B, T]
        for l in range(self.L):
            n = f"encoder.{l}"
            qkv = linear(layer_norm(x, prm, n + ".ln1"), prm, n + ".attn.qkv")   # [B, T, 3D]
            q, k, v = (qkv[..., i * D:(i + 1) * D].reshape(B, T, H, Dh).transpose(1, 2) for i in range(3))
            s = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(Dh))                  # [B, H, T, T]
            s = s.masked_fill(~keys[:, None, None, :], float("-inf"))
            att = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
            x = x + linear(att, prm, n + ".attn.proj")
            f = gelu(linear(layer_norm(x, prm, n + ".ln2"), prm, n + ".ffn.fc1"))
            x = x + linear(f, prm, n + ".ffn.fc2")
        xf = layer_norm(x, prm, "encoder.ln_f")
        return xf, xf[:, 0]

    def words(self, tok, w):
        mean = torch.einsum("bt,btd->bd", w, self.prm["words.tokens"][tok])
        return layer_norm(mean, self.prm, "words.ln")

    # ---- VQ --------------------------------------------------------------------------------

    def nearest(self, x, book, swift_index, name, notes):
        """Nearest code by squared distance. Where Swift chose another code, accept it if the two
        distances tie to rounding (and use it, so the rest compares like with like)."""
        dist = ((x.detach()[:, None, :] - book.detach()[None]) ** 2).sum(-1)     # [B, K]
        idx = dist.argmin(dim=1)
        if swift_index is not None:
            sw = swift_index.long()
            differ = (idx != sw).nonzero().flatten().tolist()
            for b in differ:
                d0, d1 = float(dist[b, idx[b]]), float(dist[b, sw[b]])
                if abs(d1 - d0) <= 1e-5 * max(1.0, abs(d0)):
                    notes.append(f"{name} row {b}: codes {int(idx[b])} and {int(sw[b])} tie ({d0:.7g} vs {d1:.7g}); Swift's taken")
                else:
                    notes.append(f"FAIL {name} row {b}: twin picks code {int(idx[b])} ({d0:.7g}), Swift {int(sw[b])} ({d1:.7g})")
            idx = sw
        return idx, dist.gather(1, idx[:, None])[:, 0]

    def quantizer(self, u, dump, notes):
        """hin = [u; e_1..e_P (straight-through); q_R (straight-through)] and the VQ loss sum:
        |e - sg(z)|^2 + beta |z - sg(e)|^2 per book, summed over rows and code dims."""
        prm, beta = self.prm, self.beta
        parts, vq_sum, got = [u], 0, {}
        for p in range(self.VH):
            z = linear(u, prm, f"vq.head{p}.proj")
            book = prm[f"vq.head{p}.codebook"]
            idx, dist = self.nearest(z, book, dump.get(f"act.vq.head{p}.index"), f"vq.head{p}", notes)
            e = book[idx]
            parts.append(z + (e - z).detach())
            vq_sum = vq_sum + ((e - z.detach()) ** 2).sum() + beta * ((z - e.detach()) ** 2).sum()
            got[f"act.vq.head{p}.z"], got[f"act.vq.head{p}.index"], got[f"act.vq.head{p}.distance"] = z, idx, dist
        r0 = linear(u, prm, "vq.residual.proj")
        r, q_r = r0, 0
        for s in range(self.VS):
            book = prm[f"vq.stage{s}.codebook"]
            idx, dist = self.nearest(r, book, dump.get(f"act.vq.stage{s}.index"), f"vq.stage{s}", notes)
            e = book[idx]
            vq_sum = vq_sum + ((e - r.detach()) ** 2).sum() + beta * ((r - e.detach()) ** 2).sum()
            got[f"act.vq.stage{s}.r"], got[f"act.vq.stage{s}.index"], got[f"act.vq.stage{s}.distance"] = r, idx, dist
            q_r = q_r + e
            r = r - e.detach()
        parts.append(r0 + (q_r - r0).detach())
        return torch.cat(parts, dim=1), vq_sum, got

    # ---- the typed reasoner ------------------------------------------------------------------

    def programs_table(self, numbers):
        """Constant tables of every step-1 result, per row: one-hot digits [B, S(A), U, S(C), P, 10]
        and which relations hold against each present number [B, S(A), U, S(C), S(B), R]. A
        one-number op sits at C = 0 only (its weight has no piC factor). Also the op mask."""
        B, S, P, U, R = numbers.shape[0], self.S, self.P, self.U, self.R
        onehot = np.zeros((B, S, U, S, P, 10))
        holds = np.zeros((B, S, U, S, S, R))
        op_mask = np.zeros((B, U), dtype=bool)
        for b in range(B):
            present = [bool((numbers[b, i] >= 0).all() and (numbers[b, i] <= 9).all()) for i in range(S)]
            vals = [value_of(numbers[b, i]) if present[i] else None for i in range(S)]
            between_somewhere = False
            for i in range(S):
                if not present[i]:
                    continue
                others = [vals[j] for j in range(S) if j != i and present[j]]
                for k, name in enumerate(self.op_names):
                    # One number per role: C apart from A, and (below) B apart from what step 1 reads.
                    cs = [c for c in range(S) if present[c] and c != i] if self.binary[k] else [0]
                    for c in cs:
                        if name == "total":
                            # The numbers from slot i through slot c, i before c, all present.
                            run = vals[i:c + 1]
                            v = sum(run) if i < c and None not in run and fits(sum(run), P) else None
                        else:
                            v = step_op(name, vals[i], vals[c] if self.binary[k] else None, others, P)
                        if v is None:
                            continue
                        if name == "between":
                            between_somewhere = True
                        for pl, d in enumerate(digits_of(v, P)):
                            onehot[b, i, k, c, pl, d] = 1
                        for j in range(S):
                            if present[j]:
                                step_reads_j = j == i or (self.binary[k] and (i < j <= c if name == "total" else j == c))
                                for r, rel in enumerate(self.relation_names):
                                    if step_reads_j and rel not in UNARY_RELATIONS:
                                        continue
                                    holds[b, i, k, c, j, r] = relation_holds(rel, v, vals[j], P)
            for k, name in enumerate(self.op_names):
                op_mask[b, k] = self.offered[k] and (name != "between" or between_somewhere)
        present = (numbers >= 0).all(-1) & (numbers <= 9).all(-1)
        t = lambda a: torch.tensor(a, dtype=self.dtype)
        return t(onehot), t(holds), torch.tensor(op_mask), torch.tensor(present)

    def reasoner(self, out, numbers, targets, ls):
        """Soft mode (training): per-row answer loss, STOP loss (BCE), op+relation entropy,
        pointer entropy, p(yes), pStop, the decoded number and the argmax program."""
        S, P, U, R = self.S, self.P, self.U, self.R
        B = out.shape[0]
        g = self.prm["decoder.gain"][0]
        onehot, holds, op_mask, present = self.programs_table(numbers)
        piA = masked_softmax(out[:, self.oA:self.oA + S], present)
        piB = masked_softmax(out[:, self.oB:self.oB + S], present)
        piC = masked_softmax(out[:, self.oC:self.oC + S], present)
        wU = masked_softmax(out[:, self.oU:self.oU + U], op_mask)
        wR = masked_softmax(out[:, self.oR:self.oR + R], torch.tensor(self.offered_relations)[None, :].expand(B, R))
        stop_logit = out[:, self.oStop]
        # A one-number op's result weighs piA wU; a binary op's piA wU piC.
        binary = torch.tensor(self.binary)
        wc = torch.where(binary[None, :, None], piC[:, None, :], torch.zeros_like(piC)[:, None, :])
        wc = wc + (~binary)[None, :, None].to(self.dtype) * F.one_hot(torch.zeros(1, dtype=torch.long), S).to(self.dtype)
        weight = piA[:, :, None, None] * wU[:, None, :, None] * wc[:, None, :, :]          # [B, S(A), U, S(C)]
        dist = torch.einsum("bikc,bikcpd->bpd", weight, onehot)                           # [B, P, 10]
        p = torch.einsum("bikc,bj,br,bikcjr->b", weight, piB, wR, holds)                  # p(BOOL)
        pc = p.clamp(FLOOR, 1 - FLOOR)
        typed_yes = torch.log(pc) - torch.log(1 - pc)
        yn = torch.stack([out[:, self.oYN], out[:, self.oYN + 1] + g * typed_yes], dim=1)
        digit_logits = out[:, self.oDig:self.oDig + 10 * P].reshape(B, P, 10) + g * torch.log(dist + FLOOR)
        kind = targets[:, 0].long()
        val = targets[:, 1].long()
        eps = ls["labelSmoothing"]
        # Yes/no: cross-entropy with label smoothing over (no, yes).
        yes = (val != 0).to(self.dtype)
        off, on = eps / 2, 1 - eps + eps / 2
        q = torch.stack([yes * off + (1 - yes) * on, yes * on + (1 - yes) * off], dim=1)
        yn_loss = -(q * torch.log_softmax(yn, dim=1)).sum(1)
        # Number: per place, cross-entropy with label smoothing, mean over places; a value that
        # does not fit P digits is wrong in every class (uniform target).
        tq = torch.zeros(B, P, 10, dtype=self.dtype)
        for b in range(B):
            if kind[b] == 2:
                v = int(val[b])
                if fits(v, P):
                    d = digits_of(v, P)
                    tq[b] = eps / 10
                    for pl in range(P):
                        tq[b, pl, d[pl]] = 1 - eps + eps / 10
                else:
                    tq[b] = 0.1
        num_loss = -(tq * torch.log_softmax(digit_logits, dim=2)).sum((1, 2)) / P
        is_num = (kind == 2).to(self.dtype)
        has_target = ((kind == 1) | (kind == 2)).to(self.dtype)
        answer = torch.where(kind == 1, yn_loss, torch.where(kind == 2, num_loss, torch.zeros_like(yn_loss)))
        # BCE(sigmoid(x), y) as softplus terms: accurate in float32 also where STOP is sure.
        stop = (is_num * F.softplus(-stop_logit) + (1 - is_num) * F.softplus(stop_logit)) * has_target
        ent = (entropy(wU) + entropy(wR)) * has_target
        pointer_ent = (entropy(piA) + entropy(piB)) * has_target
        probs = torch.softmax(digit_logits, dim=2)
        number = (probs.argmax(2) * (10 ** torch.arange(P))[None]).sum(1)
        return {"answer": answer, "stop": stop, "entropy": ent, "pointer_entropy": pointer_ent,
                "p_yes": torch.softmax(yn, dim=1)[:, 1], "p_stop": torch.sigmoid(stop_logit), "number": number,
                "choices": [piA, piB, wU, wR, piC], "digit_probs": probs}

    # ---- the whole step --------------------------------------------------------------------

    def forward_backward(self, dump, ls):
        notes = []
        tokens = dump["in.tokens"].astype(np.int64)
        places_in = dump["in.places"].astype(np.int64)
        slots_in = dump["in.slots"].astype(np.int64)
        lengths = dump["in.lengths"].astype(np.int64)
        targets = torch.tensor(dump["in.targets"], dtype=self.dtype)
        B, T = tokens.shape
        # Digits reach the encoder as one token; places only as digit-or-not.
        tok = torch.tensor(np.where(np.isin(tokens, self.digit_ids), self.digit_ids[0], tokens))
        place_ids = torch.tensor((places_in > 0).astype(np.int64))
        pos_ids = torch.tensor(word_positions(slots_in))
        slot_ids = torch.tensor(np.clip(slots_in, 0, self.S + 1))
        att_len = torch.tensor(np.clip(lengths, 1, T))
        numbers = read_numbers(tokens, places_in, slots_in, lengths, self.digit_ids, self.S, self.P)
        w = torch.tensor(word_weights(slots_in, lengths), dtype=self.dtype)

        xf, summary = self.encoder(tok, place_ids, pos_ids, slot_ids, att_len)
        u = self.words(tok, w)
        hin, vq_sum, vq_got = self.quantizer(u, {k: torch.tensor(v) for k, v in dump.items() if k.startswith("act.vq.")},
                                             notes)
        c = linear(gelu(linear(hin, self.prm, "controller.fc1")), self.prm, "controller.fc2")
        ptr = linear(gelu(linear(summary, self.prm, "pointers.fc1")), self.prm, "pointers.fc2")
        out = torch.cat([ptr, c[:, self.pointer_cols:]], dim=1)
        out.retain_grad()
        rs = self.reasoner(out, numbers, targets, ls)

        answer = rs["answer"].sum() / B
        stop = ls["lambdaStop"] * rs["stop"].sum() / B
        ent = rs["entropy"].sum() / B
        vq = ls["lambdaVQ"] * vq_sum / (self.Dc * B)
        program = torch.zeros((), dtype=self.dtype)
        head_losses = []
        if ls["lambdaProgram"] > 0 and "in.programs" in dump:
            progs = torch.tensor(dump["in.programs"]).long()
            for off, width, col in self.program_heads:
                tgt = progs[:, col]
                ce = F.cross_entropy(out[:, off:off + width], tgt.clamp(min=0), reduction="none") * (tgt >= 0)
                head_losses.append(ce)
                program = program + ce.sum() / B
            program = ls["lambdaProgram"] * program
        total = answer + stop + vq + program - ls["lambdaEntropy"] * ent
        for prm in self.prm.values():
            prm.grad = None
        total.backward(retain_graph=True)
        row_grad_twin = out.grad.clone()  # (the second backward below would add to out.grad)
        # The network's backward alone: the same graph fed Swift's own gradient at the controller
        # row (plus the VQ loss, which reaches the weights without passing the row). Equal to the
        # end-to-end gradient up to J^T (row gradient, twin - Swift), which the row check bounds.
        row_grad = torch.tensor(dump["out.controller_row_grad"], dtype=self.dtype)
        names = list(self.prm)
        chain = torch.autograd.grad(vq + (out * row_grad).sum(), [self.prm[n] for n in names], allow_unused=True)

        # The Swift encoder runs on the real tokens only and lays xf out [B, T, D] with zero rows at
        # the padding; nothing reads those rows, so the twin's padded rows are zeroed to compare.
        got = {"out.controller_row": out, "out.controller_row_grad": row_grad_twin, "out.pointer_logits": ptr,
               "act.summary": summary, "act.words_u": u, "act.encoder_out": xf * (torch.arange(xf.shape[1])[None, :] < att_len[:, None])[..., None], "act.controller_in": hin,
               "act.numbers": torch.tensor(numbers), "loss.total": total, "loss.answer": answer, "loss.stop": stop,
               "loss.vq": vq, "loss.program": program, "loss.entropy": ent}
        got.update(vq_got)
        for h, ce in enumerate(head_losses):
            got[f"out.program_loss{h}"] = ce
        got["stats.answer_loss"] = rs["answer"]
        got["stats.stop_loss"] = rs["stop"]
        got["stats.entropy"] = rs["entropy"]
        got["stats.p_yes"] = rs["p_yes"]
        got["stats.p_stop"] = rs["p_stop"]
        got["stats.pointer_entropy"] = rs["pointer_entropy"]
        for name, prm in self.prm.items():
            got["grad." + name] = prm.grad if prm.grad is not None else torch.zeros_like(prm)
        # Parameters the row does not reach (the decoder gain) keep their end-to-end gradient.
        chained = {"grad." + n: g for n, g in zip(names, chain) if g is not None}
        return got, chained, rs, notes


# ---------------------------------------------------------------------------------------------
# Comparing.

STATS_COLUMNS = {"stats.answer_loss": 0, "stats.stop_loss": 1, "stats.entropy": 2, "stats.p_yes": 5,
                 "stats.p_stop": 8, "stats.pointer_entropy": 9}


def compare(name, swift, twin, rtol, atol):
    """Max abs error, it over the Swift tensor's largest magnitude (rel), and the largest share of
    its allowance an element used; ok when every element is within rtol * scale + atol (atol a
    number or an array shaped like the tensor)."""
    swift = np.asarray(swift, dtype=np.float64)
    twin = np.asarray(twin, dtype=np.float64).reshape(swift.shape) if np.size(twin) == swift.size else np.asarray(twin)
    if swift.size != twin.size:
        return False, f"{name:40s} shape differs: Swift {swift.size} values, twin {twin.size}", (math.inf, math.inf)
    err = np.abs(swift - twin)
    scale = float(np.abs(swift).max()) if swift.size else 0.0
    worst = float(err.max()) if err.size else 0.0
    rel = worst / scale if scale > 0 else (0.0 if worst == 0 else math.inf)
    finite = bool(np.isfinite(twin).all() and np.isfinite(swift).all())
    allowed = rtol * scale + np.broadcast_to(atol, err.shape)
    used = float(np.max(np.where(err > 0, err / np.where(allowed > 0, allowed, 1e-300), 0))) if err.size else 0.0
    ok = finite and used <= 1
    return ok, (f"{name:40s} max|err| {worst:.3e}  rel {rel:.3e}  scale {scale:.3e}  tol used {min(used, 999):6.1%}  "
                f"{'ok' if ok else 'FAIL'}"), (rel, used)


def discrete_checks(dump, rs, B, S):
    """The argmax program (trace) and the decoded number: equal, or a tie to rounding."""
    lines, fails = [], 0
    trace = dump["out.reasoner_trace"].astype(np.int64)
    names = ["slot A", "slot B", "op", "relation", "slot C"]
    choices = rs["choices"]  # piA, piB, wU, wR, piC: the trace's column order
    agree, ties = 0, 0
    for col in range(len(names)):
        pr = choices[col].detach().numpy()
        for b in range(B):
            mine, theirs = int(pr[b].argmax()), int(trace[b, col])
            if mine == theirs:
                agree += 1
            elif abs(pr[b, mine] - pr[b, theirs]) <= 1e-5:
                ties += 1
            else:
                fails += 1
                lines.append(f"FAIL trace row {b} {names[col]}: twin {mine} (p {pr[b, mine]:.6f}), Swift {theirs} (p {pr[b, theirs]:.6f})")
    stats = dump["out.reasoner_stats"]
    num = rs["number"].numpy()
    probs = rs["digit_probs"].detach().numpy()
    for b in range(B):
        if int(stats[b, 6]) == int(num[b]):
            agree += 1
            continue
        # A place whose two best digits tie explains a different decoded number.
        top2 = np.sort(probs[b], axis=1)[:, -2:]
        if (top2[:, 1] - top2[:, 0]).min() <= 1e-5:
            ties += 1
        else:
            fails += 1
            lines.append(f"FAIL decoded number row {b}: twin {int(num[b])}, Swift {int(stats[b, 6])}")
    lines.append(f"{'argmax program and decoded number':44s} {agree} equal, {ties} ties to rounding, {fails} differ  "
                 f"{'ok' if fails == 0 else 'FAIL'}")
    return fails == 0, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("dump")
    ap.add_argument("--float64", action="store_true", help="compute the twin in float64 (the exact reference)")
    ap.add_argument("--rtol_out", type=float, default=1e-4, help="outputs, activations, losses (of each tensor's scale)")
    ap.add_argument("--rtol_grad", type=float, default=1e-3, help="gradients (of each tensor's scale)")
    ap.add_argument("--atol_out", type=float, default=1e-6,
                    help="absolute floor for outputs, activations and losses: float32 resolution of values of order 1-10 "
                         "(a loss is lse - logit of logits up to ~16, whose ulp is 2e-6)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    dtype = torch.float64 if a.float64 else torch.float32

    dump = load_file(a.dump)
    with safe_open(a.dump, framework="numpy") as f:
        dmeta = f.metadata() or {}
    if dmeta.get("format") != "concept-learner-golden/1":
        print(f"golden: FAIL ({a.dump} is not a dump written by `learner golden`)")
        return 1
    layout = json.loads(dmeta["reasoner"])
    twin = Twin(a.checkpoint, dmeta.get("weights", "model"), dtype, layout["ops"], layout["relations"])
    failures = []

    # The setup the twin derives itself, against what the Swift side says it used.
    swift_ls = json.loads(dmeta["loss_settings"])
    ls = twin.loss_settings(int(swift_ls["step"]))
    for k, v in ls.items():
        if abs(v - swift_ls[k]) > 1e-6 * max(1.0, abs(v)):
            failures.append(f"loss setting {k}: twin {v}, Swift {swift_ls[k]}")
    offered = sum(1 << k for k, o in enumerate(twin.offered) if o)
    if offered != layout["offeredOps"]:
        failures.append(f"offered ops: twin {offered:#x}, Swift {layout['offeredOps']:#x}")
    offered_relations = sum(1 << r for r, o in enumerate(twin.offered_relations) if o)
    if offered_relations != layout["offeredRelations"]:
        failures.append(f"offered relations: twin {offered_relations:#x}, Swift {layout['offeredRelations']:#x}")
    if [list(h) for h in twin.program_heads] != layout["programHeads"]:
        failures.append(f"worked-solution heads: twin {twin.program_heads}, Swift {layout['programHeads']}")
    if [n in BINARY_OPS for n in layout["ops"]] != layout["binary"]:
        failures.append("ops reading pointer C differ between the twin and Swift")
    B, T = dump["in.tokens"].shape
    print(f"twin: {'float64' if a.float64 else 'float32'}, torch {torch.__version__}; checkpoint step {twin.step}, "
          f"grade {twin.grade}, {dmeta.get('weights', 'model')} weights; batch {B} x {T}; D {twin.D}, slots {twin.S}, "
          f"places {twin.P}, ops {twin.U}, relations {twin.R}, row {twin.out_w}")
    print(f"loss settings (step {swift_ls['step']}): " + ", ".join(f"{k} {v:.6g}" for k, v in ls.items()))

    got, chained, rs, notes = twin.forward_backward(dump, ls)
    for n in notes:
        print("note: " + n)
        if n.startswith("FAIL"):
            failures.append(n)

    stats = dump["out.reasoner_stats"]
    for k, col in STATS_COLUMNS.items():
        dump[k] = stats[:, col]
    as_np = lambda v: v.detach().double().numpy() if torch.is_tensor(v) else np.asarray(v, dtype=np.float64)
    worst = {"out": (0.0, ""), "grad": (0.0, ""), "e2e": (0.0, ""), "out_used": (0.0, ""), "grad_used": (0.0, "")}

    def note_worst(key, value, name):  # keeps the largest value seen per key, with its tensor
        if value > worst[key][0]:
            worst[key] = (value, name)
    counts = {"out": 0, "grad": 0}
    print("-- outputs, activations and losses: |err| <= rtol_out * scale + atol (atol_out, for losses and "
          "probabilities 2 float32 spacings of the row's largest logit); indices and numbers exact")
    for name in sorted(k for k in got if not k.startswith("grad.")):
        if name not in dump:
            failures.append(f"{name} missing from the dump")
            continue
        exact = name.endswith(".index") or name == "act.numbers"
        atol = 0 if exact else a.atol_out
        # Per-question losses and probabilities come from the row's logits through exp and log,
        # so they are good to about one float32 spacing of the row's largest logit, not of
        # themselves (Swift's cross-entropy forms logit - logsumexp); batch losses likewise.
        row_ulp = np.spacing(np.abs(dump["out.controller_row"]).max(axis=1).astype(np.float32)).astype(np.float64)
        if name.startswith("stats.") or name.startswith("out.program_loss"):
            atol = np.maximum(a.atol_out, 2 * row_ulp)
        elif name.startswith("loss."):
            atol = max(a.atol_out, 2 * float(row_ulp.max()))
        if name == "out.controller_row_grad":
            # Row gradient: per element also one float32 spacing of its row's largest logit (over
            # B): the resolution of the cross-entropy gradients at the row (see the doc).
            big = np.abs(dump["out.controller_row"]).max(axis=1, keepdims=True)
            atol = (2 * np.spacing(big.astype(np.float32)).astype(np.float64) * max(1.0, ls["lambdaProgram"])
                    / dump["out.controller_row"].shape[0])
            rtol = a.rtol_grad
        else:
            rtol = 0 if exact else a.rtol_out
        ok, line, (rel, used) = compare(name, dump[name], as_np(got[name]), rtol, atol)
        print(line)
        counts["out"] += 1
        note_worst("out", rel, name)
        note_worst("out_used", used, name)
        if not ok:
            failures.append(name)
    print("-- gradients: the network's backward fed Swift's row gradient (chain) within rtol_grad * scale; "
          "end to end (the twin's own row gradient) shown beside it")
    for name in sorted(k for k in got if k.startswith("grad.")):
        if name not in dump:
            failures.append(f"{name} missing from the dump")
            continue
        ref = chained.get(name, got[name])
        ok, line, (rel, used) = compare(name, dump[name], as_np(ref), a.rtol_grad, 0)
        _, _, (rel_e2e, _) = compare(name, dump[name], as_np(got[name]), a.rtol_grad, 0)
        note_worst("grad_used", used, name)
        tag = "end-to-end only" if name not in chained else f"end to end rel {rel_e2e:.3e}"
        print(f"{line}  ({tag})")
        counts["grad"] += 1
        note_worst("grad", rel, name)
        note_worst("e2e", rel_e2e, name)
        if not ok:
            failures.append(name)
    grads_in_dump = {k for k in dump if k.startswith("grad.")}
    missing = grads_in_dump - set(got)
    if missing:
        failures.append(f"gradients the twin has no parameter for: {sorted(missing)}")
    ok, lines = discrete_checks(dump, rs, B, twin.S)
    for line in lines:
        print(line)
    if not ok:
        failures.append("argmax program / decoded number")
    print(f"compared {counts['out']} outputs/activations/losses: worst rel {worst['out'][0]:.2e} ({worst['out'][1]}), "
          f"most of its tolerance used {worst['out_used'][0]:.1%} ({worst['out_used'][1]})")
    print(f"compared {counts['grad']} gradients: chain worst rel {worst['grad'][0]:.2e} ({worst['grad'][1]}), "
          f"most of its tolerance used {worst['grad_used'][0]:.1%} ({worst['grad_used'][1]}); "
          f"end to end worst rel {worst['e2e'][0]:.2e} ({worst['e2e'][1]})")
    if failures:
        shown = "; ".join(failures[:6]) + (f"; and {len(failures) - 6} more" if len(failures) > 6 else "")
        print(f"golden: FAIL ({shown})")
        return 1
    print("golden: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
