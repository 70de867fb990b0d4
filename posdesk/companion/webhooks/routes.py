"""Routes of this part of the companion."""

from fastapi import APIRouter

router = APIRouter()
