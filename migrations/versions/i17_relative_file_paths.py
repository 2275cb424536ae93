"""Monitoring returns keep their file's path relative to DATA_DIR, like every other stored file.

Revision ID: i17_relative_file_paths
Revises: a19_funding_shares
Create Date: 2026-12-02 06:30:00

Monitoring workbooks were written to DATA_DIR/monitoring/<name> but their import batch stored the absolute
path, which breaks when the data folder moves. tracker/files.py stores "monitoring/<name>" instead; this
rewrites the rows already there. Only the path's last part is kept, so it works even if DATA_DIR has moved.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i17_relative_file_paths'
down_revision = 'a19_funding_shares'
branch_labels = None
depends_on = None

batches = sa.table('import_batches', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                   sa.column('stored_path', sa.String))


def _is_absolute(path: str) -> bool:
    return path.startswith(('/', '\\')) or (len(path) > 2 and path[1] == ':')


def _rewrite(change) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(batches.c.id, batches.c.stored_path).where(batches.c.kind == 'monitoring')).all()
    for batch_id, path in rows:
        new = change(path or '')
        if new != path:
            conn.execute(batches.update().where(batches.c.id == batch_id).values(stored_path=new))


def upgrade():
    _rewrite(lambda path: 'monitoring/' + path.replace('\\', '/').rsplit('/', 1)[-1]
             if _is_absolute(path) else path)


def downgrade():
    from flask import current_app
    import os

    data_dir = current_app.config['DATA_DIR']
    _rewrite(lambda path: os.path.join(data_dir, *path.split('/')) if path and not _is_absolute(path) else path)
