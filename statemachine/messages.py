"""The words of every refusal, in Swedish and English: one catalogue, code -> templates.
(Over 400 lines on purpose: it is the one catalogue, data more than code.)

A refusal (statemachine/errors.py) carries a code, the field at fault and its parameters;
`render(code, params, lang)` fills the code's template for `lang` with the parameters
localized for that language:

- `state`, `states`, `from_state`, `to_state`: a state's name -> its label
  (`process.state_label`); `trigger`, `triggers`, `permitted`: a trigger's name -> its
  label (`process.trigger_label`);
- an object with `.sv` and `.en` (a process Field, a configuration Label, `Words`) -> the
  words of the language;
- a list or tuple -> its members localized and joined with commas (`And`/`Or` join the
  last with "och"/"and", "eller"/"or"; an empty one is "inget"/"nothing");
- a float or Decimal -> Babel's decimal for sv_SE / en_GB ("0,5"), a `Percent` -> Babel's
  percent ("32,2 %"); an int is written as it is (ids, days, years: no grouping);
- a date -> ISO 8601 (YYYY-MM-DD), a datetime -> YYYY-MM-DD HH:MM.

No template names a CLI flag or a form: the interfaces add their own hints (the CLI names
the flag for the field, the web links the field). The `hint_*` and `cli_*` entries are
the words of those hints and of the CLI's own failures, with the flag as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from string import Formatter

LOCALES = {"sv": "sv_SE", "en": "en_GB"}

# code -> (Swedish, English)
CATALOGUE: dict[str, tuple[str, str]] = {
    # --- the data a trigger takes (statemachine/fields.py) ---------------------------------
    "unknown_data": ("{trigger} tar inte emot {key}; det som tas emot: {takes}",
                     "{trigger} does not take {key}; it takes: {takes}"),
    "applies_only_when": ("{label} gäller bara när {selector} är {values}",
                          "{label} only applies when {selector} is {values}"),
    "missing_data": ("{trigger} kräver {needs}", "{trigger} needs {needs}"),
    "unknown_choice": ("välj ett av: {choices}", "must be one of: {choices}"),
    "unknown_list_members": ("okänt: {unknown}; välj bland: {choices}", "unknown {unknown}; choose from: {choices}"),
    "list_must_include": ("måste omfatta {required} (saknas: {missing})",
                          "must include {required} (missing: {missing})"),
    "unknown_reason": ("okänt skäl {value}; välj bland: {choices}", "unknown reason {value}; choose from: {choices}"),
    "text_too_long": ("högst {max} tecken", "at most {max} characters"),
    "municipality_code_format": ("en kommunkod har fyra siffror, till exempel 0180",
                                 "a municipality code is four digits, e.g. 0180"),
    "municipality_county_unknown": ("inget län har koden {county}: kommunkodens två första siffror är länets",
                                    "no county (län) has code {county}: the first two digits of a municipality "
                                    "code are its county"),
    "officer_id_format": ("en handläggares id är 1–60 bokstäver, siffror eller . _ @ : -",
                          "an officer id is 1–60 letters, digits or . _ @ : -"),
    "unknown_fast_track": ("okänt nationellt snabbspår {value}; välj bland: {choices}",
                           "unknown national fast track {value}; choose from: {choices}"),
    "track_id_format": ("ett jobbspårs id är 1–60 bokstäver, siffror eller . _ -",
                        "a track id is 1–60 letters, digits or . _ -"),
    "not_a_date": ("inte ett datum (ÅÅÅÅ-MM-DD)", "not a date (YYYY-MM-DD)"),
    "not_a_datetime": ("inte ett datum eller en tidpunkt (ÅÅÅÅ-MM-DD eller ÅÅÅÅ-MM-DDTtt:mm)",
                       "not a date or datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"),

    # --- registering a newcomer (cases/service.py) -----------------------------------------
    "person_format": ("ange numret som ÅÅÅÅMMDD-NNNK (eller ÅÅMMDD-NNNK)",
                      "expected YYYYMMDD-NNNC (or YYMMDD-NNNC)"),
    "person_not_valid": ("inte ett giltigt person- eller samordningsnummer (kontrollsiffran eller datumet är fel)",
                         "not a valid personal identity or coordination number (check digit or date is wrong)"),
    "person_born_in_future": ("födelsedatumet i numret ligger i framtiden",
                              "the birth date in the number is in the future"),
    "after_registration": ("ligger i framtiden (efter inskrivningsdagen)",
                           "is in the future (after the registration date)"),
    "reception_before_permit": ("ligger före tillståndsdagen", "is before the permit date"),
    "active_case_exists": ("personen har redan ett pågående ärende (ärende {case}); en person har ett pågående "
                           "ärende i taget",
                           "already has an active case (case {case}); one active case per person"),
    "active_case_exists_now": ("personen har redan ett pågående ärende; en person har ett pågående ärende i taget",
                               "already has an active case; one active case per person"),
    "outside_target_groups": ("personen är {age} år på inskrivningsdagen och utanför målgrupperna ({groups})",
                              "aged {age} on the registration date, outside the target groups ({groups})"),

    # --- the process (statemachine/machine.py, cases/service.py, cases/guards.py) ----------
    "unknown_trigger": ("okänd händelse {name}; händelser: {choices}", "unknown trigger {name}; triggers: {choices}"),
    "trigger_not_permitted": ("{trigger} går inte i läget {state}; det som går nu: {permitted}",
                              "{trigger} is not permitted in state {state}; permitted now: {permitted}"),
    "transfer_same_municipality": ("ärendet finns redan i kommun {municipality}; en flytt går till en annan",
                                   "the case is already in municipality {municipality}; a transfer needs another one"),
    "track_refused": ("jobbspåret kan inte väljas: {detail}", "the track cannot be chosen: {detail}"),
    "track_prerequisites_unmet": ("individen uppfyller inte förkunskapskraven för {track}: {unmet}",
                                  "the individual does not meet the prerequisites of {track}: {unmet}"),

    # --- agreements and the state grant (interfaces/cli/agreements.py) -----------------------
    "no_agreement_files": ("inga överenskommelsefiler i {dir}", "no agreement files in {dir}"),
    "received_negative": ("antalet mottagna kan inte vara negativt ({received})",
                          "the number received cannot be negative ({received})"),

    # --- what an officer is told about a recorded step (cases/tracks.py) ---------------------
    "track_invalid_after_transfer": ("jobbspårsbeslutet ({track}) gäller inte efter flytten: {why}",
                                     "the track decision ({track}) is not valid after the transfer: {why}"),
    "track_invalid_consider": ("jobbspårsbeslutet ({track}) gäller inte efter flytten: {why}; överväg {trigger} "
                               "och en ny gemensam bedömning",
                               "the track decision ({track}) is not valid after the transfer: {why}; consider "
                               "{trigger} and a new joint assessment"),
    "prerequisites_overridden": ("förkunskapskrav åsidosatta (sparat i granskningsspåret): {unmet}",
                                 "prerequisites overridden (recorded in the audit trail): {unmet}"),

    # --- why a track cannot be chosen (models/agreements.py: TrackRefused) ------------------
    "agreement_file_broken": ("kommun {municipality}: överenskommelsefilen {files} är trasig (regel {rules}); "
                              "första felet: {issue}",
                              "municipality {municipality}: its agreement file {files} is broken (rule {rules}); "
                              "first issue: {issue}"),
    "no_agreement": ("kommun {municipality} har ingen överenskommelse om lokala jobbspår",
                     "municipality {municipality} has no agreement (överenskommelse) with local tracks"),
    "no_agreement_unreadable": ("kommun {municipality} har ingen överenskommelse om lokala jobbspår (oläsbara "
                                "överenskommelsefiler som kan innehålla den: {files})",
                                "municipality {municipality} has no agreement (överenskommelse) with local tracks "
                                "(unreadable agreement files that might hold it: {files})"),
    "agreement_expired": ("kommun {municipality}: ingen överenskommelse gäller {on} (överenskommelsen har gått ut; "
                          "gäller {periods})",
                          "municipality {municipality}: no agreement valid on {on} (agreement expired; valid "
                          "{periods})"),
    "agreement_not_yet_valid": ("kommun {municipality}: ingen överenskommelse gäller {on} (överenskommelsen gäller "
                                "inte än; gäller {periods})",
                                "municipality {municipality}: no agreement valid on {on} (agreement not yet valid; "
                                "valid {periods})"),
    "track_not_in_agreement": ("kommun {municipality}: överenskommelsen har inget jobbspår {track}; öppna spår: "
                               "{open}",
                               "municipality {municipality}: no track {track} in its agreement; open tracks: {open}"),
    "track_in_other_agreement": ("kommun {municipality}: överenskommelsen har inget jobbspår {track} (spåret hör "
                                 "till kommun {elsewhere}); öppna spår: {open}",
                                 "municipality {municipality}: no track {track} in its agreement ({track} belongs "
                                 "to municipality {elsewhere}); open tracks: {open}"),
    "track_closed": ("kommun {municipality}: jobbspåret {track} tar inte emot nya deltagare; öppna spår: {open}",
                     "municipality {municipality}: track {track} is closed for new participants; open tracks: "
                     "{open}"),

    # --- prerequisites a person does not meet (models/agreements.py: unmet_prerequisites) ---
    "prerequisite_target_group": ("målgrupp {group} tas inte emot (spåret är för {groups})",
                                  "target group {group} is not admitted (track is for {groups})"),
    "prerequisite_min_age": ("åldern {age} är under minimiåldern {min}", "age {age} is below the minimum age {min}"),
    "prerequisite_max_age": ("åldern {age} är över maxåldern {max}", "age {age} is above the maximum age {max}"),
    "prerequisite_no_upper_secondary": ("spåret är för personer utan fullföljd gymnasieutbildning",
                                        "the track is for people without completed upper-secondary education"),
    "prerequisite_sfi_level": ("sfi-nivå {level} är under den nivå som krävs ({required})",
                               "sfi level {level} is below the required level {required}"),

    # --- measures (cases/measures.py) ------------------------------------------------------
    "unknown_measure_type": ("okänd insatstyp {value}; typer: {choices}", "unknown measure type {value}; types: {choices}"),
    "measure_not_in_module": ("insatser kan bara läggas till i modul 2 eller 3; ärende {case} är i läget {state}",
                              "measures can be added only in module 2 or 3; case {case} is in state {state}"),
    "due_before_added": ("ligger före dagen insatsen läggs till", "is before the day the measure is added"),
    "unknown_measure_action": ("okänd åtgärd {value}; åtgärder: {choices}", "unknown action {value}; actions: {choices}"),
    "cancel_needs_reason": ("att avbryta en insats kräver ett skäl (ett av: {choices})",
                            "cancelling a measure needs a reason (one of: {choices})"),
    "takes_no_reason": ("{action} tar inget skäl", "{action} takes no reason"),
    "measure_action_not_permitted": ("insats {measure} kan inte {action}: den är {measure_state}",
                                     "cannot {action} measure {measure}: it is {measure_state}"),
    "no_such_measure": ("ingen insats med id {measure}", "no measure with id {measure}"),
    "measure_changed": ("insats {measure} ändrades samtidigt av någon annan; läs in den igen och försök på nytt",
                        "measure {measure} was changed at the same time; reload and try again"),

    # --- the case and its audit chain (cases/journal.py, cases/queries.py) -----------------
    "no_such_case": ("inget ärende med id {case}", "no case with id {case}"),
    "at_needs_zone": ("ange en tidszon eller bara ett datum", "give a time zone or a plain date"),
    "at_in_future": ("ligger i framtiden", "is in the future"),
    "at_before_last_event": ("ligger före ärendets senaste händelse ({last})",
                             "is before the case's last event ({last})"),
    "case_version_changed": ("ärende {case} har ändrats sedan du läste det (version {expected}, nu {actual}); "
                             "läs in det igen och försök på nytt",
                             "case {case} changed since you read it (version {expected}, now {actual}); "
                             "reload and try again"),
    "case_changed": ("ärende {case} ändrades samtidigt av någon annan; inget sparades, läs in det igen och försök "
                     "på nytt",
                     "case {case} was changed by someone else at the same time; nothing was written, reload and "
                     "try again"),

    # --- follow-up after exit (cases/followup.py) ------------------------------------------
    "followup_day": ("ska vara en av {choices}, inte {value}", "must be one of {choices}, not {value}"),
    "followup_status": ("ska vara en av {choices}, inte {value}", "must be one of {choices}, not {value}"),
    "followup_not_exited": ("ärende {case} är i läget {state}: bara ett ärende som lämnat för arbete, eget "
                            "företagande eller studier följs upp",
                            "case {case} is in state {state}: only a case that left for work, own business or "
                            "studies is followed up"),
    "followup_not_due": ("ärende {case}: uppföljningen efter {day} dagar förfaller {due} (avslut {exited})",
                         "case {case}: the {day}-day follow-up is due on {due} (exit {exited})"),
    "followup_recorded": ("ärende {case}: uppföljningen efter {day} dagar är redan registrerad",
                          "case {case}: the {day}-day follow-up is already recorded"),

    # --- what `audit verify` finds (cases/audit.py: Break) -----------------------------------
    "audit_break_case": ("ärende {case}: {problem}", "case {case}: {problem}"),
    "audit_break_event": ("ärende {case} händelse {seq}: {problem}", "case {case} event {seq}: {problem}"),
    "audit_events_without_case": ("det finns händelser för ett ärende som inte finns",
                                  "events exist for a case that does not"),
    "audit_head_mismatch": ("ärendets sparade kedjehuvud stämmer inte med dess senaste händelse",
                            "the case's recorded chain head does not match its last event"),
    "audit_state_mismatch": ("ärendet säger {stored} men dess senaste händelse ledde till {last}",
                             "the case says {stored} but its last event led to {last}"),
    "audit_event_missing": ("väntade händelse {expected}: en händelse saknas",
                            "expected event {expected}: an event is missing"),
    "audit_not_linked": ("länkar inte till föregående händelse", "does not link to the previous event"),
    "audit_content_changed": ("innehållet ändrades efter att händelsen skrevs",
                              "its content was changed after it was written"),
    "audit_no_events": ("ärendet har inga händelser i granskningsspåret", "the case has no audit events"),

    # --- security: the replayed chain, the bound person and anchors (cases/audit.py, replay.py, anchor.py) ---
    "audit_break_database": ("databasen: {problem}", "the database: {problem}"),
    "audit_column_differs": ("kolumnen {column} är {stored} men händelserna ger {replayed}",
                             "column {column} holds {stored} but the events give {replayed}"),
    "audit_column_mismatch": ("kolumnen {column} stämmer inte med händelserna",
                              "column {column} does not match the events"),
    "audit_person_mismatch": ("personnumret stämmer inte med det som registrerades (person_hmac)",
                              "the identity number does not match the one registered (person_hmac)"),
    "audit_replay_diverges": ("processen leder inte dit händelsen säger ({trigger} från {state})",
                              "the process does not lead where the event says ({trigger} from {state})"),
    "audit_measure_unrecorded": ("insats {measure} saknar händelse i granskningsspåret",
                                 "measure {measure} has no event in the audit trail"),
    "audit_measure_missing": ("insats {measure} finns i händelserna men inte bland ärendets insatser",
                              "measure {measure} is in the events but not among the case's measures"),
    "audit_measure_differs": ("insats {measure}: {column} är {stored} men händelserna ger {replayed}",
                              "measure {measure}: {column} holds {stored} but the events give {replayed}"),
    "audit_key_missing": ("granskningsnyckeln saknas ({file}): {count} ärendens personnummer kan inte kontrolleras",
                          "the audit key is missing ({file}): the identity numbers of {count} cases cannot be "
                          "checked"),
    "audit_key_not_valid": ("granskningsnyckeln i {file} går inte att läsa eller är inte 64 hexadecimala siffror",
                            "the audit key in {file} cannot be read or is not 64 hexadecimal digits"),
    "audit_note_unbound": ("{count} ärenden registrerades innan personnumret bands in i kedjan: deras nummer "
                           "kontrolleras inte (resten av deras händelser gör det)",
                           "{count} cases were registered before the identity number was bound into the chain: "
                           "their number is not checked (the rest of their events is)"),
    "audit_note_unknown_events": ("händelser av okänt slag ({triggers}): bara läge och kommun jämförs efter dem",
                                  "events of an unknown kind ({triggers}): only state and municipality are "
                                  "compared after them"),
    "audit_anchor_case_missing": ("ärendet fanns med {seq} händelser när ankaret skrevs men finns inte nu",
                                  "the case had {seq} events when the anchor was written and is missing now"),
    "audit_anchor_fewer_events": ("ankaret har {seq} händelser för ärendet men databasen färre",
                                  "the anchor holds {seq} events of the case but the database fewer"),
    "audit_anchor_rewritten": ("händelsen har en annan kontrollsumma än i ankaret: kedjan har skrivits om",
                               "the event's hash differs from the anchor's: the chain was rewritten"),
    "audit_anchor_signature": ("ankarfilens signatur stämmer inte: filen har ändrats eller är inte signerad med "
                               "den här nyckeln",
                               "the anchor file's signature does not match: the file was changed or was not "
                               "signed with this key"),
    "audit_anchor_other_key": ("ankarfilen är signerad med en annan nyckel ({anchored}) än den som finns ({current})",
                               "the anchor file was signed with another key ({anchored}) than the one present "
                               "({current})"),
    "audit_anchor_no_key": ("granskningsnyckeln saknas, så ankarfilens signatur kan inte kontrolleras",
                            "the audit key is missing, so the anchor file's signature cannot be checked"),
    "anchor_not_readable": ("ankarfilen {file} går inte att läsa", "the anchor file {file} cannot be read"),
    "anchor_not_valid": ("{file} är ingen ankarfil från etablera audit anchor ({problem})",
                         "{file} is not an anchor file of etablera audit anchor ({problem})"),
    "anchor_exists": ("{file} finns redan: ett ankare skrivs aldrig över", "{file} exists already: an anchor is never "
                                                                           "overwritten"),

    # --- backup and restore (cases/backup.py) ------------------------------------------------
    "backup_needs_sqlite": ("etablera backup gäller den inbyggda SQLite-databasen; säkerhetskopiera PostgreSQL "
                            "med pg_dump -Fc (README: Säkerhetskopior)",
                            "etablera backup is for the embedded SQLite database; back up PostgreSQL with "
                            "pg_dump -Fc (README: Backup and restore)"),
    "restore_needs_sqlite": ("en säkerhetskopia från etablera backup kan bara läsas in i SQLite; återställ "
                             "PostgreSQL med pg_restore från en pg_dump (README: Säkerhetskopior)",
                             "a backup of etablera backup can only be restored into SQLite; restore PostgreSQL "
                             "with pg_restore from a pg_dump (README: Backup and restore)"),
    "backup_exists": ("{file} finns redan: en säkerhetskopia skrivs aldrig över",
                      "{file} exists already: a backup is never overwritten"),
    "backup_directory_missing": ("katalogen {directory} finns inte", "the directory {directory} does not exist"),
    "backup_no_database": ("databasen {database} finns inte", "the database {database} does not exist"),
    "backup_not_readable": ("{file} är ingen säkerhetskopia från etablera backup (eller går inte att läsa)",
                            "{file} is not a backup of etablera backup (or cannot be read)"),
    "backup_damaged": ("säkerhetskopian {file} är skadad: {part} saknas eller stämmer inte med sin kontrollsumma",
                       "the backup {file} is damaged: {part} is missing or does not match its checksum"),
    "backup_integrity": ("databasen i säkerhetskopian {file} klarar inte SQLites integritetskontroll",
                         "the database in the backup {file} fails SQLite's integrity check"),
    "backup_revision_unknown": ("säkerhetskopian har databasversion {revision}, som den här versionen av etablera "
                                "inte känner (den senaste är {head}): återställ med en nyare version",
                                "the backup is at revision {revision}, which this version of etablera does not "
                                "know (the newest is {head}): restore with a newer version"),
    "restore_target_not_empty": ("databasen {database} är inte tom ({cases} ärenden, {files} dokumentfiler): "
                                 "inget skrevs över",
                                 "the database {database} is not empty ({cases} cases, {files} document files): "
                                 "nothing was overwritten"),
    "restore_audit_key_missing": ("granskningsnyckeln {file} saknas och säkerhetskopian innehåller den inte: lägg "
                                  "tillbaka den från sin egen säkerhetskopia först",
                                  "the audit key {file} is missing and the backup does not hold it: put it back "
                                  "from its own backup first"),
    "restore_audit_key_differs": ("granskningsnyckeln {file} är inte den som säkerhetskopians granskningsspår "
                                  "bands med: lägg tillbaka rätt nyckel från sin egen säkerhetskopia",
                                  "the audit key {file} is not the one the backup's audit trail was bound with: "
                                  "put the right key back from its own backup"),
    "export_recipient_format": ("mottagarens namn är 1–60 bokstäver (a–z), siffror eller . _ -",
                                "a recipient's name is 1–60 letters (a–z), digits or . _ -"),
    "export_period_format": ("en period är ett år (ÅÅÅÅ) eller en månad (ÅÅÅÅ-MM)",
                             "a period is a year (YYYY) or a month (YYYY-MM)"),
    "export_period_and_dates": ("ange antingen en period eller första och sista dag, inte båda",
                                "give either a period or a first and last day, not both"),
    "export_key_not_valid": ("exportnyckeln i {file} går inte att läsa eller är inte 64 hexadecimala siffror",
                             "the export key in {file} cannot be read or is not 64 hexadecimal digits"),
    "hint_overwrite": ("skriv över med {flag}", "overwrite it with {flag}"),
    "hint_anyway": ("återställ ändå med {flag}", "restore anyway with {flag}"),

    # --- lists and searches (cases/worklist.py, access/log.py) -----------------------------
    "limit_range": ("mellan 1 och {max}", "between 1 and {max}"),
    "offset_negative": ("0 eller mer", "0 or more"),
    "unknown_state": ("okänt läge {value}", "unknown state {value}"),
    "no_such_track": ("ingen överenskommelse har ett jobbspår {track}", "no agreement has a track {track}"),
    "no_such_track_in": ("ingen överenskommelse har ett jobbspår {track} för kommun {municipality}",
                         "no agreement has a track {track} for municipality {municipality}"),

    # --- users, tokens and scopes (access/) -------------------------------------------------
    "user_id_format": ("1–60 bokstäver, siffror eller . _ @ - (det id ärenden och granskningsspåret använder)",
                       "1–60 letters, digits or . _ @ - (the id cases and the audit trail use)"),
    "name_missing": ("ange ett namn", "give a name"),
    "unknown_role": ("en av: {choices}", "one of: {choices}"),
    "unknown_organisation": ("en av: {choices}", "one of: {choices}"),
    "unknown_office": ("okänt AF-kontor {value}; kontor: {choices}", "unknown AF office {value}; offices: {choices}"),
    "role_needs_municipality": ("en {role} i kommunen behöver en kommun", "a municipal {role} needs a municipality"),
    "role_needs_office": ("en {role} på Arbetsförmedlingen behöver ett kontor eller en kommun",
                          "an AF {role} needs an office or a municipality"),
    "password_too_short": ("minst {min} tecken", "at least {min} characters"),
    "user_exists": ("användaren {user} finns redan", "user {user} already exists"),
    "no_such_user": ("ingen användare {user}", "no user {user}"),
    "token_label": ("ange vad nyckeln är till för (1–120 tecken)", "say what the token is for (1–120 characters)"),
    "days_positive": ("ett positivt antal dagar", "a positive number of days"),
    # --- the event feed and webhooks (cases/feed.py, cases/webhooks.py) ---------------------
    "feed_cursor": ("okänd position i händelseflödet: använd värdet next från ett tidigare svar",
                    "not a position in the event feed: use the value next from an earlier answer"),
    "unknown_scope": ("okänd behörighet {value}; behörigheter: {choices}", "unknown scope {value}; scopes: {choices}"),
    "scope_missing": ("nyckeln saknar behörigheten {scope}", "the token lacks the scope {scope}"),
    "scope_only": ("nyckeln får bara {scopes}", "the token may only {scopes}"),
    "webhook_name": ("1–60 bokstäver (a–z), siffror eller . _ -", "1–60 letters (a–z), digits or . _ -"),
    "webhook_url": ("en adress som börjar med http:// eller https:// (högst 500 tecken)",
                    "an address starting with http:// or https:// (at most 500 characters)"),
    "webhook_exists": ("prenumerationen {name} finns redan", "subscription {name} already exists"),
    "no_such_webhook": ("ingen prenumeration {name}", "no subscription {name}"),
    "no_such_token": ("ingen giltig nyckel som börjar med {prefix}", "no live token starting {prefix}"),
    "role_read_only": ("rollen {role} får läsa men inte ändra ärenden", "a user with role {role} may read but not "
                                                                        "change cases"),
    "role_may_not": ("rollen {role} får inte {what}", "a user with role {role} may not {what}"),
    "outside_municipalities": ("{municipalities} ligger utanför dina kommuner ({yours})",
                               "{municipalities} is outside your municipalities ({yours})"),
    "csrf_stale": ("formulärets säkerhetskod saknas eller är för gammal; ladda om sidan och försök igen",
                   "the form's security token is missing or stale; reload the page and try again"),
    "form_version_missing": ("formuläret saknar ärendets version; ladda om sidan",
                             "the form lacks the case's version; reload the page"),
    "case_id_not_a_number": ("ett ärendes id är ett tal", "a case id is a number"),

    # --- reminders and officers (reminders/) ------------------------------------------------
    "officer_id_not_valid": ("1–60 bokstäver, siffror eller . _ @ - (det id ärenden använder, t.ex. handl01)",
                             "1–60 letters, digits or . _ @ - (the id cases use, e.g. handl01)"),
    "notify_url_not_valid": ("inte en adress för aviseringar (t.ex. mailto://..., msteams://..., json://..., "
                             "file:SÖKVÄG)",
                             "not a notification URL (e.g. mailto://..., msteams://..., json://..., file:PATH)"),
    "officer_exists": ("handläggaren {officer} finns redan", "officer {officer} is already registered"),
    "no_such_officer": ("ingen handläggare {officer}", "no officer {officer}"),

    # --- casework: the person and search (cases/person.py, cases/search.py) -----------
    "person_name_not_valid": ("1–{max} tecken: bokstäver, mellanslag, bindestreck, apostrof eller punkt, "
                              "först en bokstav",
                              "1–{max} characters: letters, spaces, hyphens, apostrophes or full stops, "
                              "a letter first"),
    "person_language_not_valid": ("ett språk eller en språkkod, högst {max} tecken (t.ex. arabiska, ar)",
                                  "a language or language code, at most {max} characters (e.g. Arabic, ar)"),
    "person_phone_not_valid": ("ett telefonnummer: 6–15 siffror, gärna med +landskod (t.ex. +46 70 123 45 67)",
                               "a phone number: 6–15 digits, preferably with +country code "
                               "(e.g. +46 70 123 45 67)"),
    "person_email_not_valid": ("en e-postadress (namn@exempel.se), högst {max} tecken",
                               "an e-mail address (name@example.com), at most {max} characters"),
    "person_flag_not_valid": ("ja eller nej", "yes or no"),
    "person_unknown_detail": ("inte en personuppgift som kan ändras; de som kan ändras: {choices}",
                              "not a detail that can be changed; those that can: {choices}"),
    "person_nothing_given": ("ange minst en uppgift att ändra", "give at least one detail to change"),
    "search_query_missing": ("ange ett personnummer, ett namn eller ett ärendenummer",
                             "give an identity number, a name or a case number"),
    "search_query_too_short": ("minst {min} tecken i ett namn", "at least {min} characters of a name"),
    "search_query_too_long": ("högst {max} tecken", "at most {max} characters"),
    "search_query_not_valid": ("sökningen har tecken som inte går att söka på",
                               "the search has characters that cannot be searched for"),

    # --- casework: responsibility and transfers (cases/assignment.py) -----------------
    "officer_unknown": ("ingen aktiv handläggare eller samordnare har det id:t",
                        "no active officer or coordinator has that id"),
    "officer_wrong_organisation": ("{officer} arbetar på {actual}, inte på {wanted}",
                                   "{officer} works for {actual}, not for {wanted}"),
    "officer_other_municipality": ("{officer} arbetar inte med ärenden i kommun {municipality}",
                                   "{officer} does not serve municipality {municipality}"),
    "assign_needs_coordinator": ("bara en samordnare kan tilldela ärenden (du är {role})",
                                 "only a coordinator assigns cases (you are {role})"),
    "assign_nothing": ("ange en handläggare att tilldela, eller vilken organisation som ska lämnas utan",
                       "name an officer to assign, or which organisation to leave unassigned"),
    "case_not_active": ("ärende {case} är avslutat: ansvaret kan inte ändras",
                        "case {case} is closed: its responsibility cannot change"),
    "take_needs_officer": ("bara en handläggare kan ta ett ärende (du är {role})",
                           "only an officer takes a case (you are {role})"),
    "case_already_assigned": ("ärende {case} har redan en ansvarig handläggare för {org} ({officer}); "
                              "be en samordnare att tilldela om det",
                              "case {case} already has a responsible officer at {org} ({officer}); "
                              "ask a coordinator to reassign it"),
    "reassign_same_officer": ("välj en annan handläggare än {officer}", "choose an officer other than {officer}"),
    "reassign_no_target": ("ange minst en handläggare att flytta ärendena till",
                           "name at least one officer to move the cases to"),
    "reassign_changed": ("ärendena har ändrats sedan förhandsgranskningen; granska igen",
                         "the cases changed since the preview; preview again"),

    # --- casework: queues, saved filters, exports (cases/queues.py) -------------------
    "list_filter_unknown_key": ("ett sparat filter tar bara: {choices}", "a saved filter takes only: {choices}"),
    "filter_name_missing": ("ge filtret ett namn", "give the filter a name"),
    "filter_name_long": ("högst {max} tecken", "at most {max} characters"),
    "filter_personal_data": ("ett sparat filter får inte innehålla personuppgifter (som ett personnummer)",
                             "a saved filter must not hold personal data (such as an identity number)"),
    "filter_name_taken": ("du har redan ett filter som heter {name}", "you already have a filter called {name}"),
    "filters_too_many": ("högst {max} sparade filter per användare", "at most {max} saved filters per user"),
    "no_such_filter": ("du har inget sparat filter {filter}", "you have no saved filter {filter}"),
    "filter_needs_login": ("sparade filter hör till en användare med inloggning",
                           "saved filters belong to a user with a login"),
    "csv_or_json": ("antingen CSV eller JSON, inte båda", "either CSV or JSON, not both"),

    # --- casework: notes and documents (cases/notes.py, cases/documents.py) -----------
    "note_text_missing": ("skriv anteckningens text", "write the note's text"),
    "note_text_nul": ("får inte innehålla NUL-tecken", "must not contain NUL characters"),
    "file_missing": ("välj en fil att bifoga", "choose a file to attach"),
    "file_empty": ("filen är tom", "the file is empty"),
    "file_too_large": ("filen är för stor: högst {limit}", "the file is too large: at most {limit}"),
    "file_type_not_allowed": ("filtypen {type} tas inte emot; tillåtna: {types}",
                              "files of type {type} are not taken; allowed: {types}"),
    "file_type_unknown": ("filens typ gick inte att känna igen på innehållet; tillåtna: {types}",
                          "the file's type could not be told from its content; allowed: {types}"),
    "file_content_mismatch": ("filens innehåll är inte av typen {type}", "the file's content is not of type {type}"),
    "no_such_document": ("inget dokument med id {document}", "no document with id {document}"),
    "document_missing": ("dokument {document}: filen saknas i dokumentlagret; kontakta systemförvaltaren",
                         "document {document}: its file is missing from the document store; tell the "
                         "system administrator"),
    "document_altered": ("dokument {document}: filen har ändrats sedan den bifogades (kontrollsumman stämmer "
                         "inte); kontakta systemförvaltaren",
                         "document {document}: its file was changed after it was attached (the checksum does not "
                         "match); tell the system administrator"),
    "document_erased": ("dokument {document} är gallrat", "document {document} has been erased"),
    "document_key_not_valid": ("dokumentets lagringsnyckel är ogiltig; kontakta systemförvaltaren",
                               "the document's storage key is not valid; tell the system administrator"),
    "audit_note_unrecorded": ("anteckning {note} saknar sin händelse i granskningsspåret",
                              "note {note} has no event of its own in the audit trail"),
    "audit_note_changed": ("anteckning {note} har ändrats efter att den skrevs",
                           "note {note} was changed after it was written"),
    "audit_document_unrecorded": ("dokument {document} saknar sin händelse i granskningsspåret",
                                  "document {document} has no event of its own in the audit trail"),
    "audit_document_missing": ("filen till dokument {document} saknas i dokumentlagret",
                               "the file of document {document} is missing from the document store"),
    "audit_document_changed": ("filen till dokument {document} har ändrats efter att den bifogades",
                               "the file of document {document} was changed after it was attached"),

    # --- casework: corrections (cases/corrections.py) ---------------------------------
    "correction_needs_reason": ("ange ett skäl för rättelsen: {choices}", "give a reason for the correction: {choices}"),
    "correction_needs_note": ("skriv en motivering till rättelsen", "write a justification for the correction"),
    "correction_confirm_missing": ("kryssa i att du vill rätta steget", "tick that you want to correct the step"),
    "correction_role": ("bara en samordnare eller administratör får rätta ett steg (rollen {role} får inte)",
                        "only a coordinator or an administrator may correct a step (not role {role})"),
    "no_such_event": ("ärende {case} har ingen händelse {seq}", "case {case} has no event {seq}"),
    "correction_of_registration": ("händelse {seq} är inskrivningen, som inte kan rättas; avsluta ärendet i stället",
                                   "event {seq} is the registration, which cannot be corrected; close the case "
                                   "instead"),
    "correction_not_a_step": ("händelse {seq} ({trigger}) är inget steg i processen; bara steg kan rättas",
                              "event {seq} ({trigger}) is not a step of the process; only steps can be corrected"),
    "correction_already_done": ("händelse {seq} är redan rättad", "event {seq} has already been corrected"),
    "correction_not_latest": ("händelse {seq} följs av ett senare steg ({later}: {trigger}); rätta det först",
                              "event {seq} is followed by a later step ({later}: {trigger}); correct that one "
                              "first"),
    "correction_before_unknown": ("händelse {seq} registrerades innan steg sparade hur ärendet såg ut före dem, "
                                  "så det går inte att återställa; gör i stället det steg som behövs",
                                  "event {seq} was recorded before steps kept what the case was like before "
                                  "them, so it cannot be restored; take the step that is needed instead"),
    "correction_active_case_exists": ("personen har redan ett annat pågående ärende; rättelsen skulle ge två",
                                      "the person already has another active case; the correction would make two"),
    "registered_late": ("etableringstiden gick ut {due}, före inskrivningen: ärendet är markerat och "
                        "nästa tidsramskontroll skickar en påminnelse",
                        "the establishment time ended on {due}, before the registration: the case is marked and "
                        "the next deadline check sends a reminder"),
    "corrected_by": ("rättad genom händelse {seq}", "corrected by event {seq}"),
    "corrects": ("rättar händelse {seq} ({trigger})", "corrects event {seq} ({trigger})"),


    # --- casework: municipalities, the case page, progress ----------------------------
    "municipality_unknown": ("ingen kommun har koden {value} (se kommunlistan: etablera config show)",
                             "no municipality has code {value} (see the list: etablera config show)"),
    "confirm_missing": ("{action} avviker från det vanliga förloppet: kryssa i ”Jag bekräftar” och skicka igen. "
                        "Inget har sparats.",
                        "{action} sets the normal course aside: tick “I confirm” and send again. "
                        "Nothing was saved."),

    # --- security: login and scope (interfaces/http, access/) ---
    "login_wait": ("För många misslyckade försök att logga in. Försök igen kl. {time}.",
                   "Too many failed attempts to log in. Try again at {time}."),
    "login_busy": ("Många loggar in just nu. Försök igen om en liten stund.",
                   "Many people are logging in right now. Try again in a little while."),
    "local_passwords_off": ("Inloggning med lösenord är avstängd här. Logga in med {provider}.",
                            "Logging in with a password is switched off here. Log in with {provider}."),
    "sso_failed": ("Inloggningen med {provider} kunde inte slutföras ({why}). Försök igen.",
                   "The login with {provider} could not be completed ({why}). Try again."),
    "sso_unknown_user": ("Du är inloggad hos {provider} men har ingen behörighet i Etablera: ingen av dina "
                         "grupper ger en roll här. Be din administratör om behörighet.",
                         "You are logged in at {provider} but have no access to Etablera: none of your "
                         "groups gives a role here. Ask your administrator for access."),
    "sso_no_user_id": ("{provider} skickade inget användarnamn som Etablera kan använda (anspråket {claim}).",
                       "{provider} sent no user name Etablera can use (the claim {claim})."),
    "sso_user_inactive": ("Användaren {user} är avstängd i Etablera.", "User {user} is deactivated in Etablera."),
    "scope_office_not_configured": ("Ditt AF-kontor {office} finns inte i af_offices.toml ({file}), så du ser "
                                    "inga ärenden. En administratör lägger till kontoret och dess kommuner där "
                                    "eller ger dig ett kontor som finns.",
                                    "Your AF office {office} is not in af_offices.toml ({file}), so you see no "
                                    "cases. An administrator adds the office and its municipalities there or "
                                    "gives you an office that is."),
    "scope_office_empty": ("AF-kontoret {office} har inga kommuner i af_offices.toml ({file}), så du ser inga "
                           "ärenden. En administratör anger kontorets kommuner där.",
                           "AF office {office} has no municipalities in af_offices.toml ({file}), so you see no "
                           "cases. An administrator lists the office's municipalities there."),
    "scope_no_municipality": ("Användaren {user} har ingen kommun, så du ser inga ärenden. En administratör "
                              "anger användarens kommun (etablera user add).",
                              "User {user} has no municipality, so you see no cases. An administrator sets "
                              "the user's municipality (etablera user add)."),

    # --- security: inputs, probes and the skip audit ---
    "active_case_elsewhere": ("personen har redan ett pågående ärende som du inte har behörighet till; en person "
                              "har ett pågående ärende i taget. Kontakta din samordnare.",
                              "already has an active case that you have no access to; one active case per "
                              "person. Contact your coordinator."),
    "text_not_storable": ("innehåller tecken som inte kan sparas (NUL eller ett ensamt surrogattecken)",
                          "contains characters that cannot be stored (NUL or a lone surrogate)"),
    "permit_date_too_early": ("ligger före {earliest}: kontrollera datumet",
                              "is before {earliest}: check the date"),
    "period_out_of_range": ("ligger utanför {earliest}–{latest}",
                            "is outside {earliest}–{latest}"),
    "database_unreachable": ("Databasen går inte att nå just nu; inget sparades. Försök igen om en stund, och "
                             "kontakta driften om felet kvarstår.",
                             "The database cannot be reached right now; nothing was written. Try again in a "
                             "while, and contact operations if it persists."),
    "disk_full": ("Disken är full; inget sparades. Kontakta driften.",
                  "The disk is full; nothing was written. Contact operations."),
    "database_value_refused": ("databasen kunde inte ta emot ett värde ({kind}); inget sparades",
                               "the database could not take a value ({kind}); nothing was written"),

    # --- security: request limits (interfaces/http/limits.py, interfaces/http/protocol.py) ---
    "request_too_large": ("begäran är för stor: högst {limit}", "the request is too large: at most {limit}"),
    "request_headers_too_large": ("begärans rubriker är för stora", "the request's headers are too large"),
    "request_too_slow": ("begäran kom för långsamt", "the request arrived too slowly"),
    "limit_not_valid": ("måste vara ett tal större än noll", "must be a number greater than zero"),

    # --- the follow-up report (reports/) ------------------------------------------------------
    "period_reversed": ("perioden börjar ({start}) efter att den slutar ({end})",
                        "the period starts ({start}) after it ends ({end})"),

    # --- the actor, and the data given as key=value -----------------------------------------
    "actor_missing": ("ange vem som gör detta", "say who does this"),
    "key_value_expected": ("väntade NAMN=VÄRDE, fick {pair}", "expected NAME=VALUE, got {pair}"),
    "field_not_valid": ("ogiltigt värde: {detail}", "not valid: {detail}"),

    # --- failures that are not refusals (the interfaces) -------------------------------------
    "configuration_error": ("konfigurationen: {detail}", "configuration: {detail}"),
    "aborted": ("avbrutet", "aborted"),
    "usage_error": ("fel användning: {detail}", "usage: {detail}"),
    "usage_no_such_option": ("okänd flagga {option}", "no such option {option}"),
    "usage_no_such_command": ("okänt kommando {command}", "no such command {command}"),
    "usage_missing": ("saknas: {option}", "missing {option}"),
    "usage_bad_choice": ("ogiltigt värde för {option}; välj bland: {choices}",
                         "invalid value for {option}; choose from: {choices}"),
    "usage_bad_value": ("ogiltigt värde för {option}", "invalid value for {option}"),
    "database_busy": ("databasen är upptagen med en annan ändring; inget sparades, försök igen",
                      "the database is busy with another change; nothing was written, try again"),
    "database_not_initialised": ("databasen har inga tabeller ännu", "the database has no tables yet"),
    "schema_behind": ("databasen är på version {revision}, den här versionen av etablera kräver {head}",
                      "the database is at revision {revision}; this version of etablera needs {head}"),
    "schema_unknown": ("databasen är på version {revision}, som den här versionen av etablera inte känner "
                       "(den kräver {head}): en nyare version har uppgraderat den",
                       "the database is at revision {revision}, which this version of etablera does not know "
                       "(it needs {head}): a newer version has upgraded it"),
    "database_refused": ("databasen vägrade ändringen ({kind}); inget sparades",
                         "database refused the change ({kind}); nothing was written"),
    "unexpected_error": ("oväntat fel ({kind}); inget visas om uppgifterna",
                         "unexpected error ({kind}); nothing is shown about the data"),
    "not_found_page": ("sidan finns inte", "no such page"),
    "input_not_valid": ("ogiltigt värde", "not a valid value"),
    "http_error": ("begäran kunde inte utföras ({status})", "the request could not be done ({status})"),
    "login_required": ("logga in eller skicka en giltig API-nyckel ({header})",
                       "log in or send a valid API token ({header})"),
    "csrf_header_missing": ("en ändring med inloggningens kaka kräver rubriken {header}",
                            "a change made with the session cookie needs the {header} header"),

    # --- the import of an existing caseload (cases/importing.py) ---------------------------
    "import_file_type": ("bara .csv- och .xlsx-filer kan importeras", "only .csv and .xlsx files can be imported"),
    "import_file_missing": ("filen finns inte", "no such file"),
    "import_file_empty": ("filen är tom: första raden ska vara kolumnernas namn",
                          "the file is empty: its first row must name the columns"),
    "import_file_unreadable": ("filen kan inte läsas som en Excel-arbetsbok ({reason})",
                               "the file cannot be read as an Excel workbook ({reason})"),
    "import_column_unknown": ("okänd kolumn {column}; kolumnerna är: {columns}",
                              "unknown column {column}; the columns are: {columns}"),
    "import_columns_missing": ("kolumner saknas: {columns}", "columns missing: {columns}"),
    "import_value_missing": ("värde saknas", "value missing"),
    "import_ref_twice": ("samma externa referens som rad {line}", "the same external reference as line {line}"),
    "import_person_twice": ("samma person som rad {line}", "the same person as line {line}"),
    "import_state_unknown": ("okänt läge; ett pågående ärende är i ett av: {choices}",
                             "unknown state; a case in progress is in one of: {choices}"),
    "import_state_not_active": ("bara pågående ärenden importeras, inte ett i läget {state}",
                                "only cases in progress are imported, not one in state {state}"),
    "import_date_future": ("ligger i framtiden", "is in the future"),
    "import_before_registration": ("ligger före inskrivningen ({registered})",
                                   "is before the registration ({registered})"),
    "import_measures_not_here": ("insatser finns bara i modul 2 och 3, inte i läget {state}",
                                 "measures exist only in modules 2 and 3, not in state {state}"),
    "import_active_case": ("personen har redan ett pågående ärende", "the person already has an active case"),
    # --- the register extract (cases/extract.py) ---------------------------------------------
    "extract_role": ("bara administratörer och granskare kan ta fram ett registerutdrag",
                     "only admins and auditors may produce a register extract"),

    # --- retention and erasure (gallring): cases/retention.py, cases/holds.py ----------------
    "hold_reason_missing": ("skriv skälet till gallringsstoppet", "write the reason for the legal hold"),
    "hold_role": ("bara en samordnare eller administratör kan sätta eller häva ett gallringsstopp",
                  "only a coordinator or an admin may place or release a legal hold"),
    "hold_exists": ("ärende {case} har redan ett gallringsstopp", "case {case} is already under a legal hold"),
    "hold_missing": ("ärende {case} har inget gallringsstopp", "case {case} is not under a legal hold"),
    "gallring_now_future": ("datumet får inte ligga efter i dag", "the date must not be after today"),

    # --- the interfaces' hints (the flag or command is the parameter) ------------------------
    "hint_give_with": ("ange med {flag}", "give it with {flag}"),
    "hint_update": ("ändra med {flag}", "change it with {flag}"),
    "hint_takes": ("tar emot {flag}", "it takes {flag}"),
    "hint_run": ("kör {command}", "run {command}"),
    "hint_debug": ("sätt {setting} för detaljer", "set {setting} for details"),
    "hint_override": ("den gemensamma bedömningen kan ändå anta individen: ange {flag} och motivera i {note} "
                      "(det sparas i granskningsspåret)",
                      "the joint assessment may admit the individual anyway: add {flag} and give the "
                      "justification in {note} (it is recorded in the audit trail)"),
    "hint_triggers": ("händelser nu: {triggers}", "triggers now: {triggers}"),
}

_NOTHING = ("inget", "nothing")
_JOIN = {"and": (" och ", " and "), "or": (" eller ", " or ")}
_STATE_PARAMS = {"state", "states", "from_state", "to_state"}
_TRIGGER_PARAMS = {"trigger", "triggers", "permitted"}


@dataclass(frozen=True)
class Words:
    """A value that is words in both languages (a label)."""
    sv: str
    en: str


class Percent(float):
    """A share (0.322) to be written as a percentage ("32,2 %")."""


class And(tuple):
    """A list joined with "och"/"and" before its last member."""


class Or(tuple):
    """A list joined with "eller"/"or" before its last member."""


class Code(str):
    """A value written as it is, whatever the parameter's name (a code the user typed)."""


def identity_code(exc: Exception) -> str:
    """The catalogue's code for why an identity number was refused (models.identity's
    IdentityError): its shape, its check digit or date, or a birth date in the future."""
    code = getattr(exc, "code", None)
    if code in CATALOGUE:
        return code
    text = str(exc)
    if "expected" in text:
        return "person_format"
    if "future" in text:
        return "person_born_in_future"
    return "person_not_valid"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def template(code: str, lang: str) -> str:
    pair = CATALOGUE.get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]


def render(code: str, params: dict, lang: str = "en") -> str:
    """The code's words in `lang`, its parameters localized. A code missing from the
    catalogue shows as itself with its parameters; a missing parameter as `{name}`."""
    lang = "en" if lang == "en" else "sv"
    words = template(code, lang)
    values = {name: localize(name, value, lang) for name, value in params.items()}
    if code not in CATALOGUE:
        return " ".join([code] + [f"{k}={v}" for k, v in values.items()])
    return words.format_map(_Missing(values))


class _Missing(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def localize(name: str, value, lang: str) -> str:
    """One parameter's value as words of `lang` (see the module's docstring)."""
    index = 1 if lang == "en" else 0
    if isinstance(value, Code):
        return str(value)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return ("ja", "yes")[index] if value else ("nej", "no")[index]
    if isinstance(value, Percent):
        return format_percent(value, lang)
    if isinstance(value, (float, Decimal)):
        return format_number(value, lang)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [localize(name, v, lang) for v in value]
        if not items:
            return _NOTHING[index]
        joiner = _JOIN["and" if isinstance(value, And) else "or"][index] if isinstance(value, (And, Or)) else None
        if joiner and len(items) > 1:
            return ", ".join(items[:-1]) + joiner + items[-1]
        return ", ".join(items)
    if hasattr(value, "sv") and hasattr(value, "en") and not isinstance(value, str):
        return str(value.en if lang == "en" else value.sv)
    if isinstance(value, str):
        if name in _STATE_PARAMS:
            from etablera.statemachine.process import state_label
            return state_label(value, lang)
        if name in _TRIGGER_PARAMS:
            from etablera.statemachine.process import trigger_label
            return trigger_label(value, lang)
        return value
    return str(value)


def format_number(value, lang: str, digits: int | None = None) -> str:
    """A decimal number for `lang` (Babel): "0,5" in Swedish, "0.5" in English;
    `digits`: exactly that many decimals."""
    from babel.numbers import format_decimal
    if digits is None:
        return format_decimal(value, locale=LOCALES.get(lang, "sv_SE"))
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=LOCALES.get(lang, "sv_SE"))


def format_percent(value, lang: str, digits: int = 1) -> str:
    """A share as a percentage for `lang` (Babel): 0.322 -> "32,2 %" (Swedish, with a
    no-break space) or "32.2%" (English)."""
    from babel import Locale
    from babel.numbers import format_percent as babel_percent
    locale = LOCALES.get(lang, "sv_SE")
    pattern = _last_zero(Locale.parse(locale).percent_formats[None].pattern, digits)
    return babel_percent(value, format=pattern, locale=locale)


def _last_zero(pattern: str, digits: int) -> str:
    """The locale's percent pattern ("#,##0 %") with `digits` decimals ("#,##0.0 %")."""
    base = pattern.split(";")[0]
    if "." in base:
        base = base[:base.index(".")] + base[base.index(".") + 1:].lstrip("0#")
    if not digits:
        return base
    at = base.rindex("0") + 1
    return base[:at] + "." + "0" * digits + base[at:]


def format_date(value: date | datetime | None, lang: str = "sv") -> str:
    """A date as the reports and messages write it: ISO 8601 in both languages."""
    if value is None:
        return "–"
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value.isoformat()
