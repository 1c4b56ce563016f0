"""The words of the pages, in Swedish (default) and English.

Labels of states, triggers, fields, choice values, reasons, measure types and tracks come
from the process table and the configuration; this file holds only the interface's own
words.
"""

from __future__ import annotations

from etablera.statemachine.process import CHOICE_LABELS, REGISTER

LANGS = ("sv", "en")

WORDS: dict[str, tuple[str, str]] = {
    "app": ("Etablera", "Etablera"),
    "skip_link": ("Hoppa till huvudinnehållet", "Skip to main content"),
    "nav": ("Huvudmeny", "Main menu"),
    "worklist": ("Min arbetslista", "My worklist"),
    REGISTER.name: (REGISTER.sv, REGISTER.en),     # the menu's word is the trigger's own label
    "reassign": ("Flytta ärenden", "Move cases"),         # a coordinator's: /reassign (pages/assignment.py)
    "skips": ("Granskning av överhoppningar", "Skip audit"),
    "access_log": ("Åtkomstlogg", "Access log"),
    "report": ("Uppföljning", "Follow-up report"),
    "logout": ("Logga ut", "Log out"),
    "logged_in_as": ("Inloggad som", "Logged in as"),
    "language": ("Språk", "Language"),
    "other_lang": ("In English", "På svenska"),
    "login": ("Logga in", "Log in"),
    "login_with": ("Logga in med", "Log in with"),
    "or_password": ("Eller med användarnamn och lösenord", "Or with user name and password"),
    "signed_out": ("Du är utloggad från Etablera.", "You are logged out of Etablera."),
    "provider_logout": ("Logga ut även hos", "Log out at"),
    "user_id": ("Användarnamn", "User name"),
    "password": ("Lösenord", "Password"),
    "login_failed": ("Fel användarnamn eller lösenord.", "Wrong user name or password."),
    "login_locked": ("För många misslyckade försök. Vänta en kvart och försök igen.",
                     "Too many failed attempts. Wait a quarter of an hour and try again."),
    "login_expired": ("Formuläret hade gått ut. Försök igen.", "The form had expired. Try again."),
    "filters": ("Filter", "Filters"),
    "show": ("Visa", "Show"),
    "mine": ("Mina ärenden", "My cases"),
    "all_mine": ("Alla ärenden i mina kommuner", "All cases in my municipalities"),
    "state": ("Läge", "State"),
    "any": ("Alla", "Any"),
    "municipality": ("Kommun", "Municipality"),
    "overdue_only": ("Endast försenade", "Overdue only"),
    "case": ("Ärende", "Case"),
    "due": ("Förfaller", "Due"),
    "marks": ("Markering", "Marks"),
    "track": ("Jobbspår", "Track"),
    "officer": ("Handläggare", "Officer"),
    "overdue": ("Försenat", "Overdue"),
    "days_late": ("dagar sent", "days late"),
    "escalated": ("Eskalerat", "Escalated"),
    "warned": ("Varning skickad", "Warning sent"),
    "no_cases": ("Inga ärenden matchar.", "No cases match."),
    "next_page": ("Nästa sida", "Next page"),
    "prev_page": ("Föregående sida", "Previous page"),
    "worklist_caption": ("Ärenden sorterade efter förfallodatum", "Cases sorted by due date"),
    "person": ("Personen", "The person"),
    "pnr": ("Person- eller samordningsnummer", "Personal identity or coordination number"),
    "target_group": ("Målgrupp", "Target group"),
    "permit_date": ("Uppehållstillstånd", "Residence permit"),
    "reception_date": ("Kommunmottagande", "Municipal reception"),
    "kommun_officer": ("Handläggare i kommunen", "Municipal case officer"),
    "af_officer": ("Handläggare på Arbetsförmedlingen", "AF case officer"),
    "plan": ("Plan", "Plan"),
    "dates": ("Tidsramar", "Time frames"),
    "stage_due": ("Steget förfaller", "Current stage due"),
    "establishment_due": ("Etableringen ska vara klar", "Establishment due"),
    "state_since": ("I läget sedan", "In this state since"),
    "measures": ("Insatser", "Measures"),
    "no_measures": ("Inga insatser.", "No measures."),
    "type": ("Typ", "Type"),
    "add_measure": ("Lägg till insats", "Add a measure"),
    "measure_type": ("Typ av insats", "Kind of measure"),
    "due_optional": ("Förfallodatum (valfritt)", "Due date (optional)"),
    "start": ("Starta", "Start"),
    "complete": ("Slutför", "Complete"),
    "cancel": ("Avbryt insatsen", "Cancel the measure"),
    "cancel_reason": ("Skäl", "Reason"),
    "actions": ("Vad kan göras nu", "What can be done now"),
    "no_actions": ("Inget kan göras i detta läge.", "Nothing can be done in this state."),
    "read_only": ("Du har läsbehörighet och kan inte ändra ärenden.", "You have read access and cannot change cases."),
    "leads_to": ("Leder till", "Leads to"),
    "skips_modules": ("Hoppar över", "Skips"),
    "save": ("Spara", "Save"),
    "required": ("obligatoriskt", "required"),
    "required_when": ("obligatoriskt när", "required when"),
    "choose": ("Välj …", "Choose …"),
    "timeline": ("Tidslinje", "Timeline"),
    "by": ("av", "by"),
    "reason": ("Skäl", "Reason"),
    "justification": ("Motivering", "Justification"),
    "decision": ("Beslut", "Decision"),
    "participants": ("Deltagare", "Participants"),
    "skipped": ("Hoppade över", "Skipped"),
    "error_summary": ("Det finns ett problem", "There is a problem"),
    "error_field": ("Fältet", "The field"),
    "changed_reload": ("Ärendet har ändrats av någon annan sedan du läste det. Inget sparades. "
                       "Ladda om sidan och försök igen.",
                       "The case changed since you read it. Nothing was saved. Reload the page and try again."),
    "reload": ("Ladda om ärendet", "Reload the case"),
    "saved": ("Sparat.", "Saved."),
    "not_permitted": ("Inte tillåtet", "Not permitted"),
    "not_found": ("Hittades inte", "Not found"),
    "forbidden": ("Ingen behörighet", "Not allowed"),
    "bad_input": ("Felaktiga uppgifter", "Bad input"),
    "error": ("Fel", "Error"),
    "back_to_worklist": ("Tillbaka till arbetslistan", "Back to the worklist"),
    "track_warning": ("Varning om jobbspåret", "Track warning"),
    # notes and documents (pages/journal.py); `text` and `file` are the forms' fields
    "journal": ("Anteckningar och dokument", "Notes and documents"),
    "notes": ("Anteckningar", "Notes"),
    "no_notes": ("Inga anteckningar.", "No notes."),
    "text": ("Anteckning", "Note"),
    "note_at_optional": ("Datum och tid för anteckningen (valfritt, annars nu)",
                         "The note's date and time (optional, default now)"),
    "add_note": ("Spara anteckningen", "Save the note"),
    "documents": ("Dokument", "Documents"),
    "no_documents": ("Inga dokument.", "No documents."),
    "file": ("Fil", "File"),
    "file_help": ("PDF, bild (PNG, JPEG, GIF, WebP), Word, Excel, OpenDocument eller text; högst",
                  "PDF, image (PNG, JPEG, GIF, WebP), Word, Excel, OpenDocument or text; at most"),
    "attach": ("Bifoga filen", "Attach the file"),
    "size": ("Storlek", "Size"),
    "erased": ("gallrad", "erased"),
    "module": ("Modul", "Module"),
    "since": ("Från", "From"),
    "until": ("Till", "To"),
    "when": ("När", "When"),
    "who": ("Vem", "Who"),
    "role": ("Roll", "Role"),
    "organisation": ("Organisation", "Organisation"),
    "action": ("Vad", "What"),
    "detail": ("Detalj", "Detail"),
    "search": ("Sök", "Search"),
    "person_extract": ("Registerutdrag för en person", "A person's log extract"),
    "person_extract_help": ("Numret skickas i formuläret och sparas aldrig i någon logg.",
                            "The number is sent in the form and never stored in any log."),
    "cases_of_person": ("Personens ärenden", "The person's cases"),
    "no_rows": ("Inga rader.", "No rows."),
    "report_full": ("Hela rapporten (HTML, utskriftsvänlig)", "The full report (HTML, printable)"),
    "period_from": ("Period från", "Period from"),
    "period_to": ("Period till", "Period to"),
    "new_case": ("Skriv in en nyanländ", "Register a newcomer"),
    "registered": ("Ärendet är inskrivet.", "The case is registered."),
    "yes": ("Ja", "Yes"),
    "no": ("Nej", "No"),
    "at_optional": ("Datum då det hände (valfritt, annars nu)", "When it happened (optional, default now)"),
    "version": ("Version", "Version"),
    # the case page: where the case is, what is due, the next step, confirmations
    "where_in_process": ("Var i processen", "Where in the process"),
    "step_done": ("klart", "done"),
    "step_current": ("här nu", "here now"),
    "step_skipped": ("hoppades över", "skipped"),
    "step_upcoming": ("kommer", "to come"),
    "step_not_taken": ("inte aktuellt", "not taken"),
    "step_on_hold": ("vilande", "on hold"),
    "whats_due": ("Vad ska vara klart och när", "What is due, and when"),
    "day_left": ("dag kvar", "day left"),
    "days_left": ("dagar kvar", "days left"),
    "day_late": ("dag sent", "day late"),
    "due_today": ("förfaller i dag", "due today"),
    "clock_stopped": ("Klockan står still medan ärendet är vilande; datumen flyttas fram när det återupptas.",
                      "The clock is stopped while the case is on hold; the dates move on when it resumes."),
    "next_step": ("Nästa steg", "Next step"),
    "no_next_step": ("Inget vanligt nästa steg i detta läge.", "No usual next step in this state."),
    "other_actions": ("Andra åtgärder", "Other actions"),
    "other_ways": ("Andra vägar framåt", "Other ways forward"),
    "set_aside": ("Avvikelser från det vanliga förloppet (kräver bekräftelse)",
                  "Setting the normal course aside (needs a confirmation)"),
    "confirm": ("Jag bekräftar", "I confirm"),
    "confirm_hint": ("Detta avviker från det vanliga förloppet. Kryssa i rutan för att bekräfta.",
                     "This sets the normal course aside. Tick the box to confirm."),
    # the person and search (pages/person.py, pages/search.py)
    "person_details": ("Personuppgifter", "Personal details"),
    "edit_person": ("Ändra personuppgifter", "Change the personal details"),
    "edit_person_hint": ("Ett tomt fält tas bort. Varje ändring sparas i ärendets historik med gamla och nya "
                         "värden.", "An empty field is cleared. Every change is kept in the case's history "
                         "with the old and new values."),
    "name": ("Namn", "Name"),
    "no_name": ("(namn saknas)", "(no name)"),
    "search_cases": ("Sök ärende", "Find a case"),
    "extract_title": ("Registerutdrag", "Register extract"),
    "extract_lead": ("Allt som finns lagrat om en person (dataskyddsförordningen artikel 15), som ett dokument att "
                     "skriva ut eller spara som PDF. Att ta fram utdraget loggas.",
                     "Everything stored about one person (GDPR article 15), as a document to print or save as PDF. "
                     "Producing it is logged."),
    "extract_submit": ("Ta fram registerutdrag", "Produce the extract"),
    "search_query": ("Personnummer, namn eller ärendenummer", "Identity number, name or case number"),
    "search_help": ("Till exempel 19900101-1234, 9001011234, Özlem Öst eller #123. Sökningen loggas med de "
                    "ärenden den visar, aldrig med det du skrev.",
                    "For example 19900101-1234, 9001011234, Özlem Öst or #123. The search is logged with the "
                    "cases it shows, never with what you typed."),
    "search_results": ("Träffar", "Matches"),
    "search_none": ("Inga ärenden i dina kommuner matchar.", "No cases in your municipalities match."),
    "search_more": ("Fler ärenden matchar; skriv mer för att begränsa.", "More cases match; type more to narrow it."),
    "active": ("Pågående", "Active"),
    "ended": ("Avslutat", "Ended"),
    "query": ("Sökning", "Search"),
}

ROLES = {"officer": ("Handläggare", "Case officer"), "coordinator": ("Samordnare", "Coordinator"),
         "auditor": ("Granskare", "Auditor"), "admin": ("Administratör", "Administrator")}


def words_in(table: dict[str, tuple[str, str]], lang: str) -> dict[str, str]:
    """A page module's own words (Swedish, English) in `lang`, for its template."""
    return {key: pick(pair, lang) for key, pair in table.items()}


def pick(pair: tuple[str, str] | None, lang: str, fallback: str = "") -> str:
    if pair is None:
        return fallback
    return pair[1] if lang == "en" else pair[0]


def word(key: str, lang: str) -> str:
    return pick(WORDS.get(key), lang, key)


def choice(code: str, lang: str) -> str:
    return pick(CHOICE_LABELS.get(code), lang, code)
