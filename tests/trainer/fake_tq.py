"""An in-memory stand-in for TransferQueue's kv API (kv_batch_get / kv_batch_put / kv_list / kv_clear),
with the layouts the real one returns (per-token fields as jagged nested tensors, objects as lists), so
our trainer's and verl's own `_compute_advantage` / replay buffer can run on the same data without Ray."""

from __future__ import annotations

import torch
from verl.utils import tensordict_utils as tu


class FakeTQ:
    def __init__(self):
        self.values: dict[str, dict[str, dict]] = {}  # partition -> key -> field -> value
        self.tags: dict[str, dict[str, dict]] = {}  # partition -> key -> tag

    # -- the kv API -------------------------------------------------------------------------------
    def kv_batch_get(self, keys, partition_id, select_fields=None):
        rows = [self.values[partition_id][k] for k in keys]
        fields = select_fields or sorted(rows[0])
        out = {}
        for name in fields:
            if not all(name in row for row in rows):
                continue
            column = [row[name] for row in rows]
            if isinstance(column[0], torch.Tensor) and column[0].dim() >= 1 and name not in ("g2rl_phi",):
                out[name] = torch.nested.as_nested_tensor(column, layout=torch.jagged)
            elif isinstance(column[0], torch.Tensor):
                out[name] = torch.stack(column)
            else:
                out[name] = column
        return tu.get_tensordict(out)

    def kv_batch_put(self, keys, partition_id, fields=None, tags=None):
        part = self.values.setdefault(partition_id, {})
        for i, key in enumerate(keys):
            part.setdefault(key, {})
        if fields is not None:
            for name in fields.keys():  # noqa: SIM118 (a TensorDict)
                value = fields[name]
                rows = value.unbind() if getattr(value, "is_nested", False) else list(value)
                for key, row in zip(keys, rows, strict=True):
                    part[key][name] = row.clone() if isinstance(row, torch.Tensor) else row
        if tags is not None:
            tag_part = self.tags.setdefault(partition_id, {})
            for key, tag in zip(keys, tags, strict=True):
                tag_part.setdefault(key, {}).update(tag)
        from transfer_queue import KVBatchMeta

        return KVBatchMeta(partition_id=partition_id, keys=list(keys), tags=[self.tags.get(partition_id, {}).get(k, {}) for k in keys])

    def kv_list(self, partition_id=None):
        if partition_id is not None:
            return {partition_id: dict(self.tags.get(partition_id, {}))}
        return {p: dict(t) for p, t in self.tags.items()}

    def kv_clear(self, keys, partition_id):
        for key in keys:
            self.values.get(partition_id, {}).pop(key, None)
            self.tags.get(partition_id, {}).pop(key, None)

    def install(self, monkeypatch):
        import transfer_queue

        for name in ("kv_batch_get", "kv_batch_put", "kv_list", "kv_clear"):
            monkeypatch.setattr(transfer_queue, name, getattr(self, name))
        return self


def put_samples(tq: FakeTQ, samples: list[dict], partition_id: str = "train"):
    """Store samples: each has key, response_len, score (at the last token), reward_extra_info, optional
    phi [d], is_padding, rollout_log_probs. Returns the KVBatchMeta of the batch."""
    from transfer_queue import KVBatchMeta

    keys, tags = [], []
    for s in samples:
        n = s["response_len"]
        mask = torch.ones(n, dtype=torch.int64) if not s.get("is_padding") else torch.zeros(n, dtype=torch.int64)
        rm = torch.zeros(n)
        rm[-1] = s["score"]
        row = {
            "uid": s["key"].rsplit("_", 2)[0],
            "response_mask": mask,
            "rm_scores": rm,
            "old_log_probs": torch.full((n,), -1.0),
            "extra_fields": {"reward_extra_info": dict(s["info"])},
        }
        if "rollout_log_probs" in s:
            row["rollout_log_probs"] = s["rollout_log_probs"]
        if "phi" in s:
            row["g2rl_phi"] = torch.as_tensor(s["phi"], dtype=torch.float32)
        tq.values.setdefault(partition_id, {})[s["key"]] = row
        tag = {"is_padding": bool(s.get("is_padding", False)), "seq_len": n + 1}
        tq.tags.setdefault(partition_id, {})[s["key"]] = tag
        keys.append(s["key"])
        tags.append(tag)
    return KVBatchMeta(partition_id=partition_id, keys=keys, tags=tags)
