"""The templates survey ships (docs/domain.md §5), written to the database at start-up.

A change here becomes a new version of the template the next time the service starts, unless
someone has versioned the template over HTTP since (theirs then stays current).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.survey.domain import TemplateDefinition
from shared.events.vocabulary import ProjectStage, SurveyScheme

HOUSEHOLD_SATISFACTION = "household-satisfaction"
REPAIR_RETURN_VISIT = "repair-return-visit"
COMPLAINT_RETURN_VISIT = "complaint-return-visit"
CUSTOMER_SATISFACTION_WEIGHTED = "customer-satisfaction-weighted"
SERVICE_THREE_LEVEL = "service-three-level"
SHEET_TEMPLATES: dict[ProjectStage, str] = {
    ProjectStage.PRE_CONSTRUCTION: "project-pre-construction",
    ProjectStage.CONSTRUCTION: "project-process",
    ProjectStage.POST_COMPLETION: "project-post-completion",
}


def _item(item_id: str, zh: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"item_id": item_id, "label_zh": zh, "label_en": en, **extra}


def _sheet(stage: ProjectStage, zh: str, en: str, items: list[tuple[str, str, str, int]]) -> TemplateDefinition:
    return TemplateDefinition.model_validate({
        "scheme": SurveyScheme.PROJECT_SERVICE_SCORE, "purpose": "project_sheet", "stage": stage,
        "title_zh": zh, "title_en": en,
        "items": [_item(i, z, e, standard_points=Decimal(p)) for i, z, e, p in items],
    })


BUILTIN_TEMPLATES: dict[str, TemplateDefinition] = {
    # Scheme B, seed 002: the semiannual household satisfaction survey of a managed estate.
    HOUSEHOLD_SATISFACTION: TemplateDefinition.model_validate({
        "scheme": SurveyScheme.SATISFACTION_RATE, "purpose": "household",
        "title_zh": "住户满意度调查", "title_en": "Household satisfaction survey",
        "intro_zh": "感谢您抽出时间评价我们的服务。未作评价的项目不计入统计。",
        "intro_en": "Thank you for rating our service. Items you leave blank are not counted.",
        "items": [
            _item("property_service", "物业服务总体", "Property service overall", required=False),
            _item("cleaning", "环境卫生", "Cleaning and hygiene", required=False),
            _item("security", "安全秩序", "Security and order", required=False),
            _item("maintenance", "维修服务", "Maintenance and repairs", required=False),
            _item("greenery", "绿化养护", "Gardens and greenery", required=False),
            _item("facilities", "公共设施", "Shared facilities", required=False),
            _item("staff_attitude", "服务态度", "Staff attitude", required=False),
            _item("complaint_handling", "投诉处理", "Handling of complaints", required=False),
        ],
    }),
    # docs/domain.md §4: "Monthly repair return visits ask about attitude, punctuality and quality."
    REPAIR_RETURN_VISIT: TemplateDefinition.model_validate({
        "scheme": SurveyScheme.SATISFACTION_RATE, "purpose": "repair_return_visit",
        "title_zh": "维修回访", "title_en": "Repair return visit",
        "intro_zh": "您的报修已完成并经联合验收，请评价本次维修。",
        "intro_en": "Your repair has been completed and jointly accepted. Please rate it.",
        "items": [
            _item("attitude", "服务态度", "Attitude of the repair staff"),
            _item("punctuality", "准时程度", "Punctuality"),
            _item("quality", "维修质量", "Quality of the repair"),
        ],
    }),
    COMPLAINT_RETURN_VISIT: TemplateDefinition.model_validate({
        "scheme": SurveyScheme.SATISFACTION_RATE, "purpose": "complaint_return_visit",
        "title_zh": "投诉处理回访", "title_en": "Complaint return visit",
        "intro_zh": "您反映的问题已处理完毕，请评价我们的处理。",
        "intro_en": "The matter you raised has been dealt with. Please rate how we handled it.",
        "items": [
            _item("result", "处理结果", "The result"),
            _item("timeliness", "处理及时性", "How quickly it was handled"),
            _item("attitude", "服务态度", "Staff attitude", required=False),
        ],
    }),
    # Scheme A, seed 001 §5.3 table (unit price 10 / 9 / 8 / 6 / 4, product quality 50 / 45 / 40 / 24 / 20);
    # delivery and service take the remaining 40 points by the unit-price row's percentages.
    CUSTOMER_SATISFACTION_WEIGHTED: TemplateDefinition.model_validate({
        "scheme": SurveyScheme.FIVE_LEVEL, "purpose": "general",
        "title_zh": "顾客满意度调查表", "title_en": "Customer satisfaction form",
        "items": [
            _item("unit_price", "产品单价", "Unit price", points=[10, 9, 8, 6, 4]),
            _item("product_quality", "产品品质", "Product quality", points=[50, 45, 40, 24, 20]),
            _item("delivery", "交货期", "Delivery", weight=20),
            _item("service", "服务", "Service", weight=20),
        ],
    }),
    # Scheme D, seed 003 5.4: 满意 / 一般 / 不满意. The seed names no target; 90 % is this template's.
    SERVICE_THREE_LEVEL: TemplateDefinition.model_validate({
        "scheme": SurveyScheme.THREE_LEVEL, "purpose": "general", "target_percent": Decimal(90),
        "title_zh": "顾客及相关方满意程度", "title_en": "Customer and interested-party satisfaction",
        "items": [
            _item("service", "服务", "Service"),
            _item("communication", "沟通", "Communication", required=False),
            _item("environment_safety", "环境与安全", "Environment and safety", required=False),
        ],
    }),
    # Scheme C, seed 003 5.2 and 6.1–6.3: one sheet per stage, items from the service contents.
    SHEET_TEMPLATES[ProjectStage.PRE_CONSTRUCTION]: _sheet(
        ProjectStage.PRE_CONSTRUCTION, "项目前期服务评价检查记分表", "Pre-construction service score sheet", [
            ("filing", "协助办理立项备案手续", "Help with project filing", 15),
            ("staffing", "人力资源支持", "Staff support", 10),
            ("site_preparation", "七通一平及前期配合", "Site preparation (seven connections, levelling)", 15),
            ("tendering", "协助办理招投标手续", "Help with tendering", 10),
            ("technical_consulting", "工程技术咨询", "Technical consulting", 15),
            ("environment_notice", "施工环境通告", "Notices on the construction environment", 10),
            ("visits_signing", "考察、洽谈与签约服务", "Visits, negotiation and signing", 15),
            ("publicity", "信息发布与效果图", "Announcements and renderings", 10),
        ]),
    SHEET_TEMPLATES[ProjectStage.CONSTRUCTION]: _sheet(
        ProjectStage.CONSTRUCTION, "项目过程服务评价检查记分表", "Process service score sheet", [
            ("site_management", "现场管理", "Site management", 15),
            ("schedule", "工程进度", "Schedule", 15),
            ("site_office", "现场办公场所", "Site office for the customer", 10),
            ("quality", "工程质量", "Construction quality", 20),
            ("complaint_handling", "顾客投诉及时处理", "Prompt handling of complaints", 15),
            ("special_events", "特定事件处理", "Stoppages, claims and force majeure", 10),
            ("environment_safety", "环境、安全方面的抱怨处理", "Environment and safety concerns", 15),
        ]),
    SHEET_TEMPLATES[ProjectStage.POST_COMPLETION]: _sheet(
        ProjectStage.POST_COMPLETION, "项目后期服务评价检查记分表", "Post-completion service score sheet", [
            ("warranty_contract", "保修合同与保修卡", "Warranty contract and card", 15),
            ("service_plan", "保修期顾客服务计划", "Service plan for the warranty period", 10),
            ("user_manual", "产品使用说明书", "User manual", 10),
            ("security_before_handover", "移交前维护保卫", "Guarding before handover", 10),
            ("maintenance", "维护修理及小型设施", "Maintenance and small works", 15),
            ("moving_cleaning", "搬运、清理与宣传配合", "Moving, cleaning and publicity", 10),
            ("return_visits", "回访保修及记录", "Return visits and repairs", 15),
            ("common_defects", "质量通病处理", "Recurring defects", 15),
        ]),
}
