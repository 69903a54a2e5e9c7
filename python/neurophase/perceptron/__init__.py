"""Perceptron learning with the package's activation functions.

The learning side of the theory: a unit whose activation is the mean-field
magnetisation of a membrane lattice (or one of its limits: step, tanh, logistic,
ReLU as a quench firing rate, softplus, Swish) is trained on data, and the
results are compared with the statistical mechanics of learning.

Contents
--------
* :class:`Activation` -- an activation of :mod:`neurophase.activations` chosen by
  name, with its parameters, its derivative, its output levels and its gain.
* :func:`train` -- the Rosenblatt perceptron rule (step activation, ``T = 0``),
  gradient learning of the squared error with any activation and its
  derivative, and the Hebb rule; one hidden layer as an option (XOR).
* Teacher–student learning (:func:`teacher_student`) with the reference curves
  :func:`hebb_generalisation`, :func:`online_perceptron_generalisation` and
  :func:`gibbs_generalisation`.
* Capacity: :func:`is_linearly_separable` (an exact linear program),
  :func:`cover_fraction` and :func:`capacity_scan`.
* Real data bundled with scikit-learn: :func:`load_task`, :func:`split_task`,
  :func:`temperature_scan`, :func:`gain_scan`.

The code lives in ``units`` (activations), ``training`` (rules and
:class:`Fit`), ``theory`` (learning curves for ``N -> inf``),
``teacher_student``, ``capacity`` (margins, separability, Cover) and
``datasets`` (scikit-learn tasks and scans); everything public is imported
here.

Conventions
-----------
Labels are binary, given as ``{-1, +1}``, ``{0, 1}`` or booleans; internally the
class sign ``s = +1`` or ``-1``.  The local field of an input ``x`` is
``h = w . x + b`` (``b = 0`` without a bias).  A gradient-trained unit is asked
to output the activation's upper level for ``s = +1`` and its lower level for
``s = -1`` (``+-1`` for tanh and the mean-field magnetisation, ``0`` and ``1``
for logistic, ReLU, softplus and Swish, ``0`` and ``T_c/r`` for the quench
rate) and classifies by the midpoint.  ``T_c = zJ`` for the mean-field
activation.  Every stochastic function takes ``seed`` and uses a NumPy
``Generator``; the same seed gives the same numbers.

Where this goes beyond arXiv:2102.04896: the paper derives the activations; the
learning experiments, theory curves and capacity measurements here are the
standard statistical mechanics of learning (Engel & Van den Broeck,
*Statistical Mechanics of Learning*, 2001) applied to those activations.
"""

from .capacity import (
    MAX_COVER_COUNT_P,
    CapacityResult,
    capacity_scan,
    cover_count,
    cover_fraction,
    cover_fraction_exact,
    is_linearly_separable,
    max_margin,
    novikoff_bound,
)
from .datasets import (
    TASKS,
    ScanResult,
    Task,
    gain_scan,
    load_task,
    split_task,
    temperature_scan,
)
from .teacher_student import TeacherStudentResult, teacher_student
from .theory import (
    gibbs_generalisation,
    gibbs_overlap,
    hebb_generalisation,
    online_perceptron_generalisation,
    online_perceptron_overlaps,
)
from .training import RULES, Fit, fit_figure, train
from .units import ACTIVATIONS, Activation

__all__ = [
    "ACTIVATIONS",
    "MAX_COVER_COUNT_P",
    "RULES",
    "TASKS",
    "Activation",
    "CapacityResult",
    "Fit",
    "ScanResult",
    "Task",
    "TeacherStudentResult",
    "capacity_scan",
    "cover_count",
    "cover_fraction",
    "cover_fraction_exact",
    "fit_figure",
    "gain_scan",
    "gibbs_generalisation",
    "gibbs_overlap",
    "hebb_generalisation",
    "is_linearly_separable",
    "load_task",
    "max_margin",
    "novikoff_bound",
    "online_perceptron_generalisation",
    "online_perceptron_overlaps",
    "split_task",
    "teacher_student",
    "temperature_scan",
    "train",
]
