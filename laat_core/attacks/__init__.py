from laat_core.attacks.cw_linf import CWLinf
from laat_core.attacks.factory import ATTACKS, AttackSpec, AutoAttackPlan, autoattack_plan, make_attack

__all__ = ["ATTACKS", "AttackSpec", "AutoAttackPlan", "CWLinf", "autoattack_plan", "make_attack"]
