"""HTML pages: one module per area, each with its own APIRouter."""
