"""What an import can find wrong, as stable machine codes with zh-CN and English messages.

A :class:`RowError` names where (file, sheet, row as Excel numbers it with the header as
row 1, column), what (``code``) and says it in both languages; the console shows them as
they are and clients switch on the code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# code → (zh-CN, English); ``{…}`` placeholders are filled from the error's parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    # files
    "no_files": ("没有要导入的文件。", "No files to import."),
    "too_many_files": ("一次最多导入 {limit} 个文件。", "At most {limit} files can be imported at once."),
    "file_too_large": ("文件超过 {limit_mb} MB 的上限。", "The file is larger than the {limit_mb} MB limit."),
    "unknown_file_type": ("只能导入 .csv 或 .xlsx 文件。", "Only .csv and .xlsx files can be imported."),
    "xls_not_supported": (
        "不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV。",
        "Old .xls files are not supported: save the file as .xlsx or CSV in Excel.",
    ),
    "bad_encoding": (
        "无法识别文件编码，请保存为 UTF-8 或 GB18030（Excel 默认的中文 CSV）。",
        "Unknown text encoding: save the CSV as UTF-8 or GB18030.",
    ),
    "bad_csv": ("CSV 文件格式有误：{detail}", "The CSV file is malformed: {detail}"),
    "bad_xlsx": ("无法读取该 Excel 文件：{detail}", "The Excel file cannot be read: {detail}"),
    "unknown_sheet": (
        "无法识别的工作表“{name}”；可用的工作表：{known}。",
        "Unknown sheet “{name}”; the sheets are: {known}.",
    ),
    "ignored_sheet": ("工作表“{name}”不是导入内容，已忽略。", "Sheet “{name}” is not part of the import and was ignored."),
    "duplicate_sheet": (
        "工作表“{name}”重复出现（另见 {other}），每个工作表只能提供一次。",
        "Sheet “{name}” is given twice (also in {other}); give each sheet once.",
    ),
    "empty_sheet": ("工作表为空，已忽略。", "The sheet is empty and was ignored."),
    "too_many_rows": (
        "数据行超过 {limit} 行的上限，请拆分后分批导入。",
        "More than {limit} data rows: split the file and import it in parts.",
    ),
    # headers
    "missing_column": ("缺少必填列“{header}”（{english}）。", "Required column “{header}” ({english}) is missing."),
    "duplicate_column": ("列“{header}”重复出现。", "Column “{header}” appears twice."),
    "unknown_column": ("无法识别的列“{header}”，已忽略。", "Unknown column “{header}” was ignored."),
    "merged_cells": (
        "合并单元格 {range} 已按左上角的值填充到每个单元格。",
        "Merged cells {range} were read as their top-left value in every cell.",
    ),
    # cells
    "formula_without_value": (
        "公式没有计算结果，请在 Excel 中打开并保存，或粘贴为数值。",
        "The formula has no computed value: open and save the file in Excel, or paste it as values.",
    ),
    "missing_value": ("必填项不能为空。", "A value is required."),
    "too_long": ("内容过长：{length} 字，最多 {limit} 字。", "Too long: {length} characters, at most {limit}."),
    "number_in_code_column": (
        "编码单元格是数字，开头的 0 可能已丢失；请把该列设为“文本”格式后重新填写。",
        "The code cell holds a number, which may have lost leading zeros: format the column as Text and retype it.",
    ),
    "bad_code": (
        "编码只能包含字母、数字、“.”“-”“_”。",
        "A code may contain only letters, digits, '.', '-' and '_'.",
    ),
    "bad_department_code": (
        "科室编码应为《医疗机构诊疗科目名录》代码，如 03 或 03.01。",
        "A department code is a code of the national list of clinical subjects, e.g. 03 or 03.01.",
    ),
    "department_code_lost_zero": (
        "科室编码缺少开头的 0（如 3.01 应为 03.01），可能是 Excel 把它当成了数字；请把该列设为“文本”格式。",
        "The department code lost its leading zero (3.01 should be 03.01), probably because Excel took it for a "
        "number: format the column as Text.",
    ),
    "bad_choice": ("取值应为：{choices}。", "Must be one of: {choices}."),
    "bad_level": ("级别应为 一级、二级 或 三级（或 1、2、3）。", "Level must be 一级, 二级 or 三级 (or 1, 2, 3)."),
    "bad_grade": ("等次应为 甲、乙 或 丙。", "Grade must be 甲, 乙 or 丙."),
    "bad_fee": (
        "挂号费应为以元为单位、最多两位小数的金额，如 25 或 25.00。",
        "The fee is an amount in yuan with at most two decimals, e.g. 25 or 25.00.",
    ),
    "bad_phone": ("电话号码只能包含数字、“-”、括号和“转”。", "A phone number may contain digits, '-', brackets and 转."),
    # rows
    "duplicate_row": (
        "与第 {other} 行重复（{key}），同一条记录只能出现一次。",
        "Duplicates row {other} ({key}); each record may appear only once.",
    ),
    "unknown_district": (
        "区县编码“{code}”既不在“区县”表中，也不是本市已有的区县。",
        "District “{code}” is neither in the districts sheet nor a district of the city.",
    ),
    "unknown_hospital": (
        "医院编码“{code}”既不在“医院”表中，也不是本市已有的医院。",
        "Hospital “{code}” is neither in the hospitals sheet nor a hospital of the city.",
    ),
    "unknown_department": (
        "医院“{hospital}”没有科室编码“{code}”（“科室”表和本市已有科室中都没有）。",
        "Hospital “{hospital}” has no department “{code}” (neither in the departments sheet nor in the city).",
    ),
    "ambiguous_existing": (
        "本市已有 {count} 条记录与之相同（{key}），无法确定要更新哪一条；请先在后台合并。",
        "The city already has {count} records matching {key}; merge them in the console first.",
    ),
}


@dataclass(frozen=True)
class RowError:
    """One problem found in the files (an error, or a warning when the plan says so).

    Parameters:
        code: stable machine code (a key of ``MESSAGES``).
        message_zh, message_en: the problem in Chinese and English.
        source: the file name.
        sheet: the sheet's English name (``doctors``); empty for a whole file.
        row: the row as Excel numbers it (header = 1); ``None`` for a whole sheet or file.
        column: the column header as written in the file (or the expected header).
        cell: the Excel cell reference (``D7``) when row and column are known.
        value: the offending text, shortened.
    """

    code: str
    message_zh: str
    message_en: str
    source: str = ""
    sheet: str = ""
    row: int | None = None
    column: str = ""
    cell: str = ""
    value: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One line for a terminal: where, code, the Chinese and English message."""
        where = ":".join(p for p in (self.source, self.sheet, str(self.row) if self.row else "", self.column) if p)
        value = f" [{self.value}]" if self.value else ""
        return f"{where}: {self.code}: {self.message_zh} / {self.message_en}{value}"


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def problem(
    error_code: str,
    *,
    source: str = "",
    sheet: str = "",
    row: int | None = None,
    column: str = "",
    column_index: int | None = None,
    value: Any = "",
    **params: Any,
) -> RowError:
    """Build a :class:`RowError` with its messages filled in."""
    zh, en = MESSAGES[error_code]
    shown = str(value) if value not in (None, "") else ""
    cell = f"{column_letter(column_index)}{row}" if row is not None and column_index is not None else ""
    return RowError(
        code=error_code,
        message_zh=zh.format(**params),
        message_en=en.format(**params),
        source=source,
        sheet=sheet,
        row=row,
        column=column,
        cell=cell,
        value=shown if len(shown) <= 80 else shown[:77] + "…",
    )
