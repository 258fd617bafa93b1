"""Console page of fleet jobs: each kiosk's update (job, stage, state, version) and the jobs.

Beside the fleet page in the "Kiosks" group; head office sees every store and the jobs,
store staff their own store's kiosks.
"""

from cloud_bridge.auth import HEAD_OFFICE, STORE_STAFF
from cloud_bridge.console.page import Page

from . import views

PAGES = [
    Page("fleet/updates", "软件更新", "Updates", views.updates, "updates.html",
         group="fleet", roles=(HEAD_OFFICE, STORE_STAFF), order=20),
]
LABELS = {
    "upd.kiosks": ("各收银机的更新", "Updates per kiosk"),
    "upd.jobs": ("更新任务", "Update jobs"),
    "upd.job": ("任务", "Job"),
    "upd.kind": ("类型", "Kind"),
    "upd.kind.software": ("软件", "Software"),
    "upd.kind.config": ("配置", "Configuration"),
    "upd.target_version": ("目标版本", "Version"),
    "upd.running_version": ("运行版本", "Running"),
    "upd.stage": ("阶段", "Stage"),
    "upd.state": ("状态", "State"),
    "upd.reason": ("原因", "Reason"),
    "upd.updated": ("更新于", "Updated"),
    "upd.progress": ("进度", "Progress"),
    "upd.created": ("创建于", "Created"),
    "upd.none": ("还没有更新任务", "No update job yet"),
    # Execution and job states (own keys: the console's st.created means an unpaid order).
    "upd.st.queued": ("排队中", "Queued"),
    "upd.st.downloading": ("下载中", "Downloading"),
    "upd.st.installing": ("安装中", "Installing"),
    "upd.st.health_checking": ("健康检查中", "Health check"),
    "upd.st.succeeded": ("成功", "Succeeded"),
    "upd.st.rolled_back": ("已回滚", "Rolled back"),
    "upd.st.failed": ("失败", "Failed"),
    "upd.st.superseded": ("已被取代", "Superseded"),
    "upd.st.created": ("未开始", "Not started"),
    "upd.st.running": ("进行中", "Running"),
    "upd.st.paused": ("已暂停", "Paused"),
    "upd.st.cancelled": ("已取消", "Cancelled"),
    "upd.st.aborted": ("已中止", "Aborted"),
    "upd.st.completed": ("已完成", "Completed"),
}
