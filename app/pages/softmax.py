"""The softmax lab (being built): its routes land here."""

from fastapi import APIRouter

router = APIRouter(tags=["pages"])
