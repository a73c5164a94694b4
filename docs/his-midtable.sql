-- 预约挂号平台 ⇄ 医院 HIS 中间表（midtable adapter）— MariaDB 10.3+ / MySQL 8.0
-- Intermediate tables between the appointment platform and a hospital's HIS.
--
-- Run in a database the hospital owns (one per hospital, or shared by the hospitals of a group:
-- every table has hospital_code).  The meaning of each column, who writes it and how rows are
-- picked up: docs/his-midtable.md.
--
--   HIS writes          platform reads                  platform writes    HIS reads
--   mt_schedule   --->  by row_version                  mt_request  --->   WHERE status = 'NEW'
--   mt_visit      --->  by row_version                                     (and sets status,
--   mt_fee_item   --->  by row_version                                      his_no, his_message)
--
-- Times are the hospital's local time (Asia/Shanghai unless agreed otherwise); money in fen (分).
-- The platform's account needs SELECT on mt_schedule, mt_visit, mt_fee_item and their *_seq
-- tables, and SELECT, INSERT on mt_request, nothing else:
--   GRANT SELECT ON hisdb.mt_schedule TO 'guahao'@'%';  (… mt_visit, mt_fee_item, mt_*_seq)
--   GRANT SELECT, INSERT ON hisdb.mt_request TO 'guahao'@'%';

SET NAMES utf8mb4;

-- ---------------------------------------------------------------------------------------------
-- Row versions.  Every insert or update of a row the HIS writes takes the next number of its
-- table's sequence (a row of the *_seq table; the triggers below do it), so the platform reads
-- "row_version > the last one I processed" and never misses or repeats a change.  Numbers are
-- handed out when the statement runs, not when it commits, so they may become visible out of
-- order and a rolled-back change leaves a hole: the platform allows for both.
-- The platform reads the *_seq tables to tell a version replaced by a later update of its row
-- (committed, so it never turns up) from one not yet committed.  They only need recent rows
-- (a day's); a DBA may purge older rows, e.g. nightly below the MAX(id) noted the night before:
--   DELETE FROM mt_schedule_seq WHERE id < @max_id_noted_last_night;
-- ---------------------------------------------------------------------------------------------

CREATE TABLE mt_schedule_seq (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE mt_visit_seq (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE mt_fee_item_seq (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB;

-- ---------------------------------------------------------------------------------------------
-- 出诊排班与号源（HIS 写）: one row per bookable period of a session.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE mt_schedule (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    hospital_code      VARCHAR(40)  NOT NULL COMMENT '医院代码（平台上的医院代码）',
    session_no         VARCHAR(64)  NOT NULL COMMENT 'HIS 出诊（排班）号：同一医生同一天同一半天的各时段相同',
    period_no          SMALLINT     NOT NULL DEFAULT 1 COMMENT '时段序号（1, 2, …）',
    department_code    VARCHAR(20)  NOT NULL DEFAULT '' COMMENT '科室代码（《医疗机构诊疗科目名录》或双方约定）',
    department_name    VARCHAR(60)  NOT NULL DEFAULT '' COMMENT '科室名称',
    doctor_code        VARCHAR(40)  NOT NULL DEFAULT '' COMMENT '医生编号（平台医生编号，如 D12）',
    doctor_name        VARCHAR(40)  NOT NULL DEFAULT '' COMMENT '医生姓名（无编号时按姓名匹配）',
    campus_code        VARCHAR(40)  NOT NULL DEFAULT '' COMMENT '院区（空：科室所在院区）',
    clinic_date        DATE         NOT NULL COMMENT '出诊日期',
    half_day           VARCHAR(8)   NOT NULL COMMENT 'am 上午 / pm 下午 / night 夜间',
    start_time         TIME         NOT NULL COMMENT '时段开始',
    end_time           TIME         NOT NULL COMMENT '时段结束',
    registration_type  VARCHAR(20)  NOT NULL DEFAULT '' COMMENT '号别（普通、专家…），仅供核对',
    fee_fen            INT          NULL COMMENT '挂号费（分）；NULL：按平台号别费用',
    capacity           INT          NOT NULL DEFAULT 0 COMMENT '给平台的号源数（网上、电话、短信等公开渠道）',
    onsite_capacity    INT          NOT NULL DEFAULT 0 COMMENT '现场号源数',
    clinic_capacity    INT          NOT NULL DEFAULT 0 COMMENT '诊间预约号源数',
    referral_capacity  INT          NOT NULL DEFAULT 0 COMMENT '社区转诊号源数',
    booked             INT          NOT NULL DEFAULT 0 COMMENT 'HIS 已挂出数（核对用）',
    status             VARCHAR(10)  NOT NULL DEFAULT 'OPEN' COMMENT 'OPEN 出诊 / STOPPED 停诊',
    stop_reason        VARCHAR(200) NOT NULL DEFAULT '' COMMENT '停诊原因（发给患者）',
    row_version        BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT '行版本（触发器维护）',
    updated_at         DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_mt_schedule (hospital_code, session_no, period_no),
    KEY ix_mt_schedule_version (row_version),
    KEY ix_mt_schedule_day (hospital_code, clinic_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='出诊排班与号源（HIS 写）';

-- ---------------------------------------------------------------------------------------------
-- 就诊状态（HIS 写）: one row per thing that happened to a booking's visit.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE mt_visit (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    hospital_code      VARCHAR(40)  NOT NULL,
    booking_id         VARCHAR(24)  NOT NULL COMMENT '平台预约号（mt_request.booking_id）',
    his_no             VARCHAR(64)  NOT NULL DEFAULT '' COMMENT 'HIS 挂号/就诊号',
    clinic_date        DATE         NOT NULL COMMENT '就诊日期',
    outcome            VARCHAR(12)  NOT NULL COMMENT 'CHECKED_IN 已签到取号 / SEEN 已就诊 / NO_SHOW 爽约',
    event_time         DATETIME     NULL COMMENT '发生时间（医院当地时间）',
    row_version        BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at         DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_mt_visit (hospital_code, booking_id, outcome),
    KEY ix_mt_visit_version (row_version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='就诊状态（HIS 写）';

-- ---------------------------------------------------------------------------------------------
-- 待缴费项目（HIS 写）: drug, exam … charges a patient may pay on the platform (诊间支付).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE mt_fee_item (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    hospital_code      VARCHAR(40)  NOT NULL,
    item_no            VARCHAR(64)  NOT NULL COMMENT 'HIS 收费项目号（缴费与退费都用它）',
    visit_no           VARCHAR(64)  NOT NULL DEFAULT '' COMMENT 'HIS 就诊号',
    booking_id         VARCHAR(24)  NOT NULL DEFAULT '' COMMENT '平台预约号（有则填）',
    patient_id_number  VARCHAR(18)  NOT NULL DEFAULT '' COMMENT '患者身份证号',
    patient_card_no    VARCHAR(40)  NOT NULL DEFAULT '' COMMENT '诊疗卡号',
    patient_name       VARCHAR(40)  NOT NULL DEFAULT '',
    kind               VARCHAR(10)  NOT NULL COMMENT 'drug 药品 / exam 检查 / lab 检验 / treatment 治疗 / other',
    item_name          VARCHAR(100) NOT NULL COMMENT '项目名称（收据上的名称）',
    quantity           VARCHAR(20)  NOT NULL DEFAULT '1',
    amount_fen         INT          NOT NULL COMMENT '应缴金额（分）',
    department_name    VARCHAR(60)  NOT NULL DEFAULT '' COMMENT '开单科室',
    status             VARCHAR(10)  NOT NULL DEFAULT 'UNPAID' COMMENT 'UNPAID 待缴 / PAID 已缴 / REFUNDED 已退 / VOID 作废',
    row_version        BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at         DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_mt_fee_item (hospital_code, item_no),
    KEY ix_mt_fee_item_version (row_version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='待缴费项目（HIS 写）';

-- ---------------------------------------------------------------------------------------------
-- 平台业务请求（平台写，HIS 处理并回写状态）: bookings, cancellations, moves, payments, refunds.
-- The HIS reads WHERE status = 'NEW' ORDER BY id, and updates only status, his_no, his_message,
-- processed_at.  request_id is unique: a push the platform retries is written once.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE mt_request (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    request_id         VARCHAR(120) NOT NULL COMMENT '平台请求号（唯一）：预约号:动作[:区分]',
    hospital_code      VARCHAR(40)  NOT NULL,
    action             VARCHAR(10)  NOT NULL COMMENT 'BOOK 预约 / CANCEL 取消 / MOVE 改约 / PAY 缴费 / REFUND 退费',
    booking_id         VARCHAR(24)  NOT NULL COMMENT '平台预约号',
    booking_his_no     VARCHAR(64)  NOT NULL DEFAULT '' COMMENT 'HIS 对该预约的号（BOOK 受理时回写的 his_no）',
    patient_name       VARCHAR(40)  NOT NULL DEFAULT '',
    patient_sex        VARCHAR(1)   NOT NULL DEFAULT '' COMMENT 'M / F',
    patient_birth_date DATE         NULL,
    patient_id_number  VARCHAR(18)  NOT NULL DEFAULT '' COMMENT '身份证号（按约定：脱敏或完整）',
    patient_card_no    VARCHAR(40)  NOT NULL DEFAULT '' COMMENT '诊疗卡号',
    department_code    VARCHAR(20)  NOT NULL DEFAULT '',
    department_name    VARCHAR(60)  NOT NULL DEFAULT '',
    doctor_code        VARCHAR(40)  NOT NULL DEFAULT '',
    doctor_name        VARCHAR(40)  NOT NULL DEFAULT '',
    campus_code        VARCHAR(40)  NOT NULL DEFAULT '',
    clinic_date        DATE         NULL COMMENT '就诊日期（MOVE：新日期）',
    half_day           VARCHAR(8)   NOT NULL DEFAULT '',
    start_time         TIME         NULL COMMENT '时段开始（MOVE：新时段）',
    end_time           TIME         NULL,
    previous_date      DATE         NULL COMMENT 'MOVE：原日期',
    previous_start     TIME         NULL COMMENT 'MOVE：原时段开始',
    previous_doctor    VARCHAR(40)  NOT NULL DEFAULT '' COMMENT 'MOVE：原医生编号',
    fee_fen            INT          NULL COMMENT '挂号费（分）',
    channel            VARCHAR(20)  NOT NULL DEFAULT '' COMMENT '预约渠道（web、sms、phone、wechat…）',
    pay_kind           VARCHAR(20)  NOT NULL DEFAULT '' COMMENT 'PAY/REFUND：registration 挂号费 / fees 诊间缴费',
    pay_provider       VARCHAR(20)  NOT NULL DEFAULT '' COMMENT 'PAY/REFUND：支付渠道（wechatpay、alipay…）',
    pay_reference      VARCHAR(64)  NOT NULL DEFAULT '' COMMENT 'PAY：支付流水号；REFUND：退款流水号',
    refund_of          VARCHAR(64)  NOT NULL DEFAULT '' COMMENT 'REFUND：原支付流水号',
    amount_fen         INT          NULL COMMENT 'PAY/REFUND：金额（分）',
    fee_item_nos       VARCHAR(1000) NOT NULL DEFAULT '' COMMENT 'PAY/REFUND（fees）：mt_fee_item.item_no，逗号分隔',
    reason             VARCHAR(200) NOT NULL DEFAULT '' COMMENT 'CANCEL/MOVE：原因',
    created_at         DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT '写入时间',
    status             VARCHAR(10)  NOT NULL DEFAULT 'NEW' COMMENT 'NEW 待处理 / TAKEN 处理中 / DONE 已受理 / ERROR 拒绝',
    his_no             VARCHAR(64)  NOT NULL DEFAULT '' COMMENT 'HIS 回写：挂号号、收据号…',
    his_message        VARCHAR(300) NOT NULL DEFAULT '' COMMENT 'HIS 回写：说明；ERROR 时为拒绝原因',
    processed_at       DATETIME(3)  NULL COMMENT 'HIS 回写：处理时间',
    UNIQUE KEY uq_mt_request (request_id),
    KEY ix_mt_request_pickup (status, id),
    KEY ix_mt_request_booking (hospital_code, booking_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='平台业务请求（平台写，HIS 回写状态）';

-- ---------------------------------------------------------------------------------------------
-- Triggers: each insert and update of a HIS-written row takes its table's next row_version.
-- ---------------------------------------------------------------------------------------------
DELIMITER //

CREATE TRIGGER mt_schedule_version_ins BEFORE INSERT ON mt_schedule FOR EACH ROW
BEGIN
    INSERT INTO mt_schedule_seq VALUES (NULL);
    SET NEW.row_version = LAST_INSERT_ID();
END//

CREATE TRIGGER mt_schedule_version_upd BEFORE UPDATE ON mt_schedule FOR EACH ROW
BEGIN
    INSERT INTO mt_schedule_seq VALUES (NULL);
    SET NEW.row_version = LAST_INSERT_ID();
END//

CREATE TRIGGER mt_visit_version_ins BEFORE INSERT ON mt_visit FOR EACH ROW
BEGIN
    INSERT INTO mt_visit_seq VALUES (NULL);
    SET NEW.row_version = LAST_INSERT_ID();
END//

CREATE TRIGGER mt_visit_version_upd BEFORE UPDATE ON mt_visit FOR EACH ROW
BEGIN
    INSERT INTO mt_visit_seq VALUES (NULL);
    SET NEW.row_version = LAST_INSERT_ID();
END//

CREATE TRIGGER mt_fee_item_version_ins BEFORE INSERT ON mt_fee_item FOR EACH ROW
BEGIN
    INSERT INTO mt_fee_item_seq VALUES (NULL);
    SET NEW.row_version = LAST_INSERT_ID();
END//

CREATE TRIGGER mt_fee_item_version_upd BEFORE UPDATE ON mt_fee_item FOR EACH ROW
BEGIN
    INSERT INTO mt_fee_item_seq VALUES (NULL);
    SET NEW.row_version = LAST_INSERT_ID();
END//

DELIMITER ;
