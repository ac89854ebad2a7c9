"""The transfer set: real rows plus synthetic rows inside the Domain, labelled by the teacher."""

from ._transfer import STRATEGIES, TransferSet, make_transfer_set, sample_synthetic

__all__ = ["TransferSet", "make_transfer_set", "sample_synthetic", "STRATEGIES"]
