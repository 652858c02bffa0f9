"""A character-level LSTM that learns from the Python standard library's own source code and then
writes new "Python" one character at a time — the classic LSTM-on-source-code demo.

    python examples/char_lstm.py [--iterations 1000] [--hidden 256]

It takes about 34 s of CPU time on one thread of the project's 2-core machine (measured with
OMP_NUM_THREADS=1: 33.6 s user time). The wall time depends on what else runs: 5 min 22 s at a
load average of 19, when this process got a tenth of a core. On a busy machine start it with
OMP_NUM_THREADS=1 (see the README's note on threads).

Every machine with Python has the training text. The network: one-hot characters → LSTM →
Linear → softmax over the vocabulary, trained with Adam on random 64-character windows
(truncated back-propagation through time), then sampled with a temperature. After 1,000
iterations (loss about 1.4) it writes indented comment lines, `self.` attribute calls and `elif`
branches that look like the standard library at a glance. Sampling never makes a run of spaces
longer than the longest in the training text (66): a small model at a low temperature otherwise
falls into runs of hundreds of spaces, its likeliest character.
"""
import argparse
import os
import re
import sysconfig
import time

import numpy as np

import pyengine
from pyengine import nn, optim
from pyengine.nn.utils import clip_grad_norm_

p = argparse.ArgumentParser()
p.add_argument("--iterations", type=int, default=1000)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--seq", type=int, default=64)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--temperature", type=float, default=0.6)
args = p.parse_args()

# Text: a handful of standard-library modules, printable ASCII only.
stdlib = sysconfig.get_paths()["stdlib"]
names = ["textwrap.py", "string.py", "shlex.py", "fnmatch.py", "glob.py", "bisect.py", "heapq.py", "queue.py",
         "calendar.py", "difflib.py"]
text = ""
for name in names:
    path = os.path.join(stdlib, name)
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="ignore") as f:
            text += f.read()
text = "".join(ch for ch in text if ch == "\n" or 32 <= ord(ch) < 127)
chars = sorted(set(text))
index = {c: i for i, c in enumerate(chars)}
data = np.array([index[c] for c in text], dtype=np.int64)
V = len(chars)
print(f"{len(text):,} characters of standard-library source, vocabulary {V}")

pyengine.manual_seed(0)
rng = np.random.default_rng(0)


class CharLSTM(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.lstm = nn.LSTM(vocab, hidden)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):             # x (T, N, V) one-hot
        out, state = self.lstm(x, state)
        T, N, H = out.shape
        return self.fc(out.reshape(T * N, H)), state


def one_hot(ids):                                  # (T, N) ints → (T, N, V) float32
    x = np.zeros(ids.shape + (V,), np.float32)
    np.put_along_axis(x, ids[..., None], 1.0, axis=-1)
    return pyengine.from_numpy(x)


model = CharLSTM(V, args.hidden)
opt = optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
t0 = time.perf_counter()
for it in range(1, args.iterations + 1):
    starts = rng.integers(0, len(data) - args.seq - 1, args.batch)
    window = np.stack([data[s:s + args.seq + 1] for s in starts], axis=1)   # (T+1, N)
    logits, _ = model(one_hot(window[:-1]))
    loss = loss_fn(logits, pyengine.from_numpy(window[1:].reshape(-1).copy()))
    opt.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    if it % 100 == 0 or it == 1:
        print(f"iteration {it:>5}  loss {loss.item():.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)


# The longest run of spaces in the training text: a sample never makes a longer one.
longest_spaces = max((len(run) for run in re.findall(" +", text)), default=0)


def sample(prime="def ", length=400, temperature=args.temperature):
    model.eval()
    out, state = list(prime), None
    with pyengine.no_grad():
        logits, state = model(one_hot(np.array([[index[c]] for c in prime])))
        for _ in range(length):
            z = logits.numpy()[-1].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            run = len(out) - len("".join(out).rstrip(" "))
            if run >= longest_spaces and " " in index:
                p[index[" "]] = 0.0
            k = int(rng.choice(V, p=p / p.sum()))
            out.append(chars[k])
            logits, state = model(one_hot(np.array([[k]])), state)
    return "".join(out)


print("\n--- sampled text ---")
print(sample())
