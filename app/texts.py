"""What each tab explains. Plain words for a teaching session."""


def intro_text(model_labels: list[str]) -> str:
    """The page's opening text; the shipped models are listed from the model store, not written here."""
    return f"""
# LAAT Lab — zero-shot adversarial robustness with language anchors
An image classifier usually learns one weight vector per class and can only name the classes it was trained on.
**LAAT** (Li et al., CVPR 2024) instead gives every class a fixed **anchor**: the text encoder's embedding of a
sentence such as *"a photo of a red star."*. The image model learns to map pictures next to their class's anchor,
and is trained **adversarially** so that tiny, deliberately crafted pixel changes cannot move it. Because anchors
come from text alone, the model can also classify **novel** classes it never saw, and stay robust on them.
Everything here runs offline on a CPU: the MiniLM text encoder, a generated data set of coloured shapes
(48 *base* classes to train on, 16 *novel* colour-shape combinations held out), and {len(model_labels)} shipped
models ({", ".join(label.replace(" (shipped)", "") for label in model_labels)}).
"""


ANCHOR_LAB = """
**What you see.** Each class name becomes a unit vector (its anchor). The heatmaps show the cosine similarity of
every pair of anchors: 1 = same direction, 0 = unrelated. Text encoders put most class names close together
(the official CLIP anchors of CIFAR-FS have a mean off-diagonal cosine of 0.76), so the classifier's targets are
nearly the same point and an attacker needs only a nudge to cross from one to another.
**LAAT's expansion** keeps each anchor on its great circle through the mean direction of the *base* anchors and
stretches the angle so the widest base anchor sits at 90°: relative geometry is kept, similarity drops.
Novel classes are mapped with the base statistics, as they would be at test time. *Mean-centering* (subtract the
base mean, renormalize) is a simpler alternative for comparison. The 2-D maps place similar anchors close
together; each panel is fitted on its own, so compare distances within a panel, not positions across the two.
A warning appears when two classes get (nearly) the same anchor, or when novel classes lie further from the base
mean than any base class: the expansion then pushes them past 90° where they crowd together again.
"""

ATTACK_LAB = """
**What you see.** An adversarial attack changes every pixel by at most **eps** (here in 1/255 steps of the 0–255
range) in the direction that most hurts the model's current answer. FGSM takes one step; PGD and CW-Linf take
*steps* small steps; APGD adapts its step size ("strong preview"); AutoAttack runs four attacks one after the
other and stops at the first that succeeds (with a time limit here; it ignores the steps slider). The perturbation image is amplified to be visible. The class list is the head's
classes: with a LAAT model you can type **any** names, even ones it never trained on (zero-shot), because their
anchors come from text. A standard model (trained without attacks) is usually fooled at eps 8/255; a LAAT model
much less often. Images are handled as PNG tensors: nothing is re-read from a lossy display copy.
"""

COMPARE = """
**What you see.** Robust accuracy as the attack budget eps grows, for the shipped standard and LAAT models, on the
48 base classes (dashed, seen in training) and the 16 novel classes (solid, never seen: zero-shot). Error bars are
95% intervals. A healthy curve starts at the clean accuracy and falls toward 0 as eps grows; a curve that stays
high at large eps would mean the attack is failing (gradient masking), not that the model is robust. The shipped
figures come from the benchmark; *Recompute* measures again on freshly generated images.
**Why is LAAT's clean accuracy lower than the standard model's?** Adversarial training asks the model to keep its
answer for every image within eps of each training image, which rules out the fine, brittle cues a standard model
is free to use. It pays for robustness with clean accuracy (the robustness–accuracy trade-off); the standard model
is near-perfect on clean images and near 0 under attack.
"""


def train_text(steps: int, methods: dict) -> str:
    """The Train tab's explanation, with its attack and method list taken from the code."""
    listed = "\n".join(f"- *{name}*: {method.summary}" for name, method in methods.items())
    return f"""
**What you see.** Train a small Conv4 (32-64-128-128 channels) on the base classes live, with one of the
registered methods:

{listed}

The training attack is {steps}-step PGD; *fast AT* replaces it by one random-start FGSM step, about
{(steps + 1) / 2:.0f}x cheaper. The *anchor regime* picks the prompt: *mild* anchors are moderately similar,
*clip-like* ones as crowded as CLIP's (see "Why LAAT"). Training stops at the time budget; the result appears in
the attack lab and compare tab as "your *method* model" and can be downloaded as a checkpoint (safetensors + JSON
metadata).
"""


WHY_LAAT = """
**The question.** LAAT claims that text anchors which are too similar make naive adversarial training against
them ("anchor-AT") fail on novel classes, and that expanding the anchors plus a smoothness term fixes it. Here the
same text encoder is put in two **anchor regimes** by its prompt: *mild* (short prompt, anchors moderately
similar) and *clip-like* (a long shared prompt, anchors as crowded as the official CLIP anchors). Every method was
trained with the same backbone and budget on the base classes, with several training seeds, and attacked on the
novel classes it never saw. The heatmaps show each regime's anchors before and after expansion; the bars show
what each method achieved, with 95% intervals over training seeds. The text below is written from those numbers.
Pick a benchmark: the **fill split** adds a third attribute (solid or outlined), so every novel class combines
attribute pairs the model has seen; the same split **at tau 0.1** asks whether expansion does more than a lower
temperature would; in the older **pairs split** some novel colour/shape pairs fail for every robust model,
whatever its anchors (BENCHMARKS.md explains why).
"""
