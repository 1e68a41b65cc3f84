"""Use cases built on the engine. Surveys: :func:`run_survey` asks personas a questionnaire.

- :mod:`.questionnaire`: the questionnaire schema (questions, options, skip logic, mode);
- :mod:`.validation`: validation errors as ``file:line questions[3].options``; YAML reading;
- :mod:`.matching`: reading option labels, sets, orderings and numbers from candidate texts;
- :mod:`.survey_answers`: a verbalized distribution → soft answer, unmatched mass, drawn answer;
- :mod:`.respondent`: :class:`Respondent`, one persona answering (a runner unit);
- :mod:`.survey`: :class:`Survey` (prompts and readers built once), :func:`run_survey`;
- :mod:`.survey_analysis`: answers and per-question, per-group shares from the event log;
- :mod:`.survey_reference`: reference files and representativeness, TV and JS against them;
- :mod:`.persuasion`, :mod:`.persuasion_extract`, :mod:`.persuasion_analysis`: PersuasionForGood
  dialogues, donations read from text, comparison with the human donations;
- :mod:`.focus_group`, :mod:`.focus_group_analysis`, :mod:`.conversation_questions`: a moderated
  group with stance questions before and after.

Names are loaded on first use, so reading a questionnaire does not import the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Questionnaire": "questionnaire",
    "Option": "questionnaire",
    "ShowIf": "questionnaire",
    "load_questionnaire": "questionnaire",
    "Survey": "survey",
    "Respondent": "respondent",
    "SurveyResult": "survey",
    "run_survey": "survey",
    "arun_survey": "survey",
    "SurveyAnswers": "survey_analysis",
    "SurveySummary": "survey_analysis",
    "QuestionSummary": "survey_analysis",
    "load_answers": "survey_analysis",
    "summarize": "survey_analysis",
    "Reference": "survey_reference",
    "ReferenceComparison": "survey_reference",
    "load_reference": "survey_reference",
    "compare_to_reference": "survey_reference",
    "PersuasionConfig": "persuasion",
    "PersuasionReport": "persuasion_analysis",
    "build_persuasion_units": "persuasion",
    "persuasion_report": "persuasion",
    "extract_donation": "persuasion_extract",
    "FocusGroupConfig": "focus_group",
    "FocusGroupReport": "focus_group_analysis",
    "build_focus_group_units": "focus_group",
    "focus_group_report": "focus_group",
}

__all__ = [
    "FocusGroupConfig",
    "FocusGroupReport",
    "Option",
    "PersuasionConfig",
    "PersuasionReport",
    "QuestionSummary",
    "Questionnaire",
    "Reference",
    "ReferenceComparison",
    "Respondent",
    "ShowIf",
    "Survey",
    "SurveyAnswers",
    "SurveyResult",
    "SurveySummary",
    "arun_survey",
    "build_focus_group_units",
    "build_persuasion_units",
    "compare_to_reference",
    "extract_donation",
    "focus_group_report",
    "load_answers",
    "load_questionnaire",
    "load_reference",
    "persuasion_report",
    "run_survey",
    "summarize",
]

if TYPE_CHECKING:
    from .focus_group import FocusGroupConfig, build_focus_group_units, focus_group_report
    from .focus_group_analysis import FocusGroupReport
    from .persuasion import PersuasionConfig, build_persuasion_units, persuasion_report
    from .persuasion_analysis import PersuasionReport
    from .persuasion_extract import extract_donation
    from .questionnaire import Option, Questionnaire, ShowIf, load_questionnaire
    from .respondent import Respondent
    from .survey import Survey, SurveyResult, arun_survey, run_survey
    from .survey_analysis import (
        QuestionSummary,
        SurveyAnswers,
        SurveySummary,
        load_answers,
        summarize,
    )
    from .survey_reference import (
        Reference,
        ReferenceComparison,
        compare_to_reference,
        load_reference,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vs_sim.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
