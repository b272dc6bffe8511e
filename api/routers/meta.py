"""GET /api/v1/profiles, /api/v1/profiles/{name}, /api/v1/model."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from model.vocab import unknown_profile

from ..auth import KeyInfo, require
from ..errors import ApiError
from ..schemas import ModelInfo
from .common import ERR_AUTH, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["meta"])
API_VERSION = "v1"


@router.get("/profiles", operation_id="listProfiles", response_model=list[dict[str, Any]],
            summary="可用的标准 / rule profiles",
            description="每个标准 (全国条例及各地规定) 的名称、继承关系、版本、规则数量和设置。\n\n"
                        "Each rule profile (the national regulation and local ones): name, parents, version, "
                        "rule counts and settings.",
            responses=ERR_AUTH)
def list_profiles(request: Request, key: KeyInfo = Depends(require(None))):
    rb = ctx_of(request).screener.rulebooks
    return [rb.get(n).summary() for n in rb.names()]


@router.get("/profiles/{name}", operation_id="getProfile", response_model=dict[str, Any],
            summary="一个标准的详情 / one rule profile in full",
            description="来源、门槛、排除与列举规则。\n\nSources, thresholds, exclusion and enumeration rules.",
            responses={**ERR_AUTH, **ERR_NOT_FOUND})
def get_profile(request: Request, name: str = Path(max_length=64), key: KeyInfo = Depends(require(None))):
    rb = ctx_of(request).screener.rulebooks
    try:
        prof = rb.get(name)
    except KeyError:
        raise ApiError.of(unknown_profile(name, rb.names(), field="name"), 404) from None
    return prof.detail()


@router.get("/model", operation_id="getModel", response_model=ModelInfo,
            summary="模型与规则版本 / model and rules in use",
            description="学习模型版本 (无模型时为 rules-only)、规则版本、模型卡。\n\nThe learned model's version "
                        "(rules-only without one), the rules version and the model card.",
            responses=ERR_AUTH)
def model_info(request: Request, key: KeyInfo = Depends(require(None))):
    scr = ctx_of(request).screener
    card = None
    if scr.model is not None:
        from model.learned import ARTIFACT_DIR

        path = ARTIFACT_DIR / "model_card.json"
        if path.exists():
            card = json.loads(path.read_text(encoding="utf-8"))
    from model.learned import describe_model

    return {"model_version": scr.model_version, "rules_version": scr.rules_version, "learned": scr.model is not None,
            "default_profile": scr.default_profile, "profiles": scr.rulebooks.names(), "model_card": card,
            "backend": describe_model(scr.model), "api_version": API_VERSION}
