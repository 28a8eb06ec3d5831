"""The domain's shared words (docs/domain.md §1–§5), as they travel between services.

Values are stable English identifiers; the Chinese label of each is kept beside it for products
to display.
"""

from __future__ import annotations

from enum import StrEnum


class FeedbackKind(StrEnum):
    COMPLAINT = "complaint"  # 投诉
    SUGGESTION = "suggestion"  # 意见, 建议
    REQUIREMENT = "requirement"  # 要求
    INQUIRY = "inquiry"  # 问询
    PRAISE = "praise"  # 评价 / 表扬
    REPAIR_REQUEST = "repair_request"  # 报修
    SURVEY_REMARK = "survey_remark"  # 满意度调查


class Channel(StrEnum):
    PHONE = "phone"  # 来电
    LETTER = "letter"  # 来文, 信函
    WALK_IN = "walk_in"  # 来访
    RETURN_VISIT = "return_visit"  # 主动回访
    SOLICITATION = "solicitation"  # 意见征询: 座谈会, 家访
    FAX = "fax"
    EMAIL = "email"
    WEB = "web"
    WECHAT = "wechat"
    SITE_MEETING = "site_meeting"  # 现场例会
    SYSTEM = "system"  # another enterprise system


class ProjectStage(StrEnum):
    PRE_CONSTRUCTION = "pre_construction"  # 前期
    CONSTRUCTION = "construction"  # 过程
    POST_COMPLETION = "post_completion"  # 后期 (竣工及保修)
    PROPERTY_MANAGEMENT = "property_management"  # 物业管理


class ComplaintCategory(StrEnum):
    PRODUCT_QUALITY = "product_quality"  # 产品质量, 技术
    PRODUCTION_DELIVERY = "production_delivery"  # 交货期, 数量, 生产能力
    CONTRACT_AFTER_SALES = "contract_after_sales"  # 订单, 合同, 售后, 索赔, 顾客财产
    PRICE = "price"  # 价格
    SITE_SAFETY_ENVIRONMENT = "site_safety_environment"  # 现场环境与安全
    SERVICE_ATTITUDE = "service_attitude"  # 服务态度, 服务提供
    EXTERNAL_ENVIRONMENT = "external_environment"  # 外部环境, 公共设施


class Department(StrEnum):
    BUSINESS = "business"  # 业务部 / 经营开发部 / 经营部
    ENGINEERING_QUALITY = "engineering_quality"  # 工程质量部 / 质量部 / 品质管理部
    PRODUCTION = "production"  # 生产部
    CONSTRUCTION_MANAGEMENT = "construction_management"  # 施工管理部
    SAFETY_ENVIRONMENT = "safety_environment"  # 安质环保部 / 安全监管部
    CUSTOMER_SERVICE = "customer_service"  # 客户服务部 / 客户服务中心
    GENERAL_AFFAIRS = "general_affairs"  # 综合部
    PROJECT_DEPARTMENT = "project_department"  # 项目经理部


class SurveyScheme(StrEnum):
    FIVE_LEVEL = "A"  # 五级: 100/80/60/30/0, weighted items
    SATISFACTION_RATE = "B"  # 满意率
    PROJECT_SERVICE_SCORE = "C"  # 项目服务评分
    THREE_LEVEL = "D"  # 满意 / 一般 / 不满意
