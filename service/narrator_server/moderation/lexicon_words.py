"""The local filter's word lists: per category, the ratings each list is refused at.

Terms are separated by spaces; `_` joins the words of a phrase (matched across spaces,
hyphens and underscores); a trailing `*` takes any ending ("disembowel*"). Every letter may
be repeated ("fuuuck"). Matching is on whole words of the normalized text (lower case, no
accents, common look-alike letters and leetspeak undone: `lexicon.py`).

Fiction first: fantasy combat (attack, slay, stab, kill, sword, death) is in no list, so a
sword fight passes at every rating; what the lists hold is what a rating rules out (blood and
corpses at everyone, gore below mature, strong language below mature, sexual content, slurs,
real-world harm instructions). `ALLOWED` phrases are taken out before matching (a blood moon,
a naked blade, a suicide mission). Slurs are rot13-encoded so that the source does not spell
them out.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from ..core.models import ContentRating

E, T, M = ContentRating.EVERYONE, ContentRating.TEEN, ContentRating.MATURE
EVERY_RATING = frozenset({E, T, M})
BELOW_MATURE = frozenset({E, T})
EVERYONE_ONLY = frozenset({E})
NOWHERE: frozenset[ContentRating] = frozenset()


@dataclass(frozen=True)
class Terms:
    """One list: its tag (a regex group), the category it is refused for, and at which
    ratings (none: it only counts as part of a `Pair`)."""

    tag: str
    category: str
    refused_at: frozenset[ContentRating]
    words: str


@dataclass(frozen=True)
class Pair:
    """Refused when a term of `first` and one of `second` occur close together (within
    `PAIR_SPAN` characters, in the window or across its start): neither alone is enough."""

    category: str
    refused_at: frozenset[ContentRating]
    first: tuple[str, ...]
    second: tuple[str, ...]


# In order of severity: a text that matches several lists is refused for the first.
TERMS = (
    Terms(
        "minors_explicit",
        "sexual/minors",
        EVERY_RATING,
        """
        loli lolis lolicon shota shotacon child_porn* kiddie_porn* kiddy_porn* pedo pedos
        pedophil* paedophil* paedo paedos jailbait csam underage_sex
    """,
    ),
    Terms(
        "self_harm_howto",
        "self-harm/instructions",
        EVERY_RATING,
        """
        painless_way_to_die best_way_to_die easiest_way_to_die lethal_dose*
    """,
    ),
    Terms(
        "hate",
        "hate",
        EVERY_RATING,
        codecs.decode(
            """
        avttre avttref avttn avttnf avttnm puvax puvaxf tbbx tbbxf fcvp fcvpf jrgonpx
        jrgonpxf xvxr xvxrf snttbg* snt sntf qlxr qlxrf genaal genaavrf ergneq ergneqf
        enturnq* gbjryurnq* ornare ornaref cnxv cnxvf furznyr* fnaqavttre*
    """,
            "rot13",
        ),
    ),
    Terms(
        "harassment",
        "harassment",
        EVERY_RATING,
        """
        kys go_kill_yourself go_hang_yourself neck_yourself
    """,
    ),
    Terms(
        "sexual_explicit",
        "sexual",
        EVERY_RATING,
        """
        porn* orgasm* penis* vagina* clitor* masturbat* blowjob* blow_job* handjob* hand_job*
        cumshot* dildo* hentai boobs boobies tits titties genital* fellatio cunnilingus
        ejaculat* semen sexual_intercourse oral_sex anal_sex rape rapes raped raping rapist
        rapists molest* grope groped gropes groping
    """,
    ),
    Terms(
        "gore",
        "violence/graphic",
        BELOW_MATURE,
        """
        disembowel* eviscerat* entrails intestines viscera gore gory gored decapitat* behead*
        dismember* severed_head* severed_limb* severed_arm* severed_leg* severed_hand* flay
        flays flayed flaying skinned_alive burned_alive burnt_alive boiled_alive mutilat*
        spilled_guts guts_spill* spilling_guts brains_spill* brain_matter gouged_out
        gouge_out eyes_gouged limb_from_limb bloodbath blood_splatter* gutted_him gutted_her
    """,
    ),
    Terms(
        "sexual_acts",
        "sexual",
        BELOW_MATURE,
        """
        sex sexy sexual* erotic* horny make_love making_love made_love makes_love kinky
        foreplay aroused arousal orgy orgies striptease have_sex had_sex having_sex has_sex
        fondle fondled fondles fondling
    """,
    ),
    Terms(
        "sexual_suggestive",
        "sexual",
        BELOW_MATURE,
        """
        seduc* lust lustful lusting lusts sensual* lingerie topless cleavage breasts nipple*
    """,
    ),
    Terms(
        "nudity",
        "sexual",
        EVERYONE_ONLY,
        """
        naked nude nudes nudity undress* unclothed
    """,
    ),
    Terms(
        "self_harm",
        "self-harm",
        BELOW_MATURE,
        """
        suicide suicides suicidal kill_myself killing_myself killed_myself end_my_life
        ending_my_life take_my_own_life taking_my_own_life slit_my_wrist* cut_myself
        cutting_myself hang_myself hanging_myself self_harm selfharm want_to_die wanna_die kms
    """,
    ),
    Terms(
        "profanity_strong",
        "profanity",
        BELOW_MATURE,
        """
        fuck* motherfuck* shit* bullshit* horseshit* dipshit* cunt* asshole* arsehole*
        dickhead* cocksuck* twat* wank* whore* slut* putain merde connard* salope* scheisse
        scheiss arschloch fotze mierda puta putas joder cabron* pendejo* cazzo vaffanculo
        stronzo caralho
    """,
    ),
    Terms(
        "cruelty",
        "violence/graphic",
        EVERYONE_ONLY,
        """
        tortur* flog flogged flogging impale*
    """,
    ),
    Terms(
        "blood",
        "violence",
        EVERYONE_ONLY,
        """
        blood bloody bloodied bleed bleeding bleeds bled bloodstain* bloodsoaked blood_soaked
        blood_stained gash gashes corpse corpses dead_body dead_bodies slit_his_throat
        slit_her_throat slits_his_throat slits_her_throat
    """,
    ),
    Terms(
        "drugs",
        "drugs",
        EVERYONE_ONLY,
        """
        cocaine heroin meth methamphetamine crack_cocaine crystal_meth lsd mdma fentanyl
        marijuana cannabis opioid* ketamine
    """,
    ),
    Terms(
        "profanity_moderate",
        "profanity",
        EVERYONE_ONLY,
        """
        bitch* bastard* goddamn* god_damn* piss pissed pissing pisses crap crappy bollocks
        arse douche* jackass dumbass
    """,
    ),
    # Only as parts of pairs.
    Terms(
        "minor",
        "",
        NOWHERE,
        """
        child children kid kids underage preteen* prepubescent toddler* infant* schoolgirl*
        schoolboy* little_girl* little_boy* young_girl* young_boy* one_year_old
        two_year_old three_year_old four_year_old five_year_old six_year_old seven_year_old
        eight_year_old nine_year_old ten_year_old eleven_year_old twelve_year_old
        thirteen_year_old fourteen_year_old fifteen_year_old sixteen_year_old
        seventeen_year_old two_years_old three_years_old four_years_old five_years_old
        six_years_old seven_years_old eight_years_old nine_years_old ten_years_old
        eleven_years_old twelve_years_old thirteen_years_old fourteen_years_old
        fifteen_years_old sixteen_years_old seventeen_years_old
    """,
    ),
    Terms(
        "instruction",
        "",
        NOWHERE,
        """
        how_to how_do_i how_do_you how_can_i how_would_i how_should_i step_by_step
        instructions_for instructions_to instructions_on recipe_for ingredients_for guide_to
        teach_me tell_me_how explain_how show_me_how best_way_to easiest_way_to
        quickest_way_to synthesi* where_to_buy where_can_i_buy
    """,
    ),
    Terms(
        "dangerous",
        "",
        NOWHERE,
        """
        pipe_bomb* pressure_cooker_bomb* ied ieds detonator* semtex tatp ammonium_nitrate
        nitroglycerin* thermite napalm nerve_agent* sarin vx_gas novichok ricin anthrax
        botulinum mustard_gas chlorine_gas phosgene dirty_bomb* bioweapon* chemical_weapon*
        ghost_gun* untraceable_gun* printed_gun* molotov*
    """,
    ),
)

# Ages 1 to 17 written in digits ("12 year old", "12-year-old", "12yo"): part of `minor`.
MINOR_AGES = r"(?<![a-z0-9])(?:1[0-7]|[1-9])(?:[\s_-]*(?:years?|yrs?)[\s_-]*old|[\s_-]*yo)"

PAIRS = (
    Pair("sexual/minors", EVERY_RATING, ("minor",), ("sexual_explicit", "sexual_acts")),
    Pair("illicit", EVERY_RATING, ("instruction",), ("dangerous", "drugs")),
    Pair("self-harm/instructions", EVERY_RATING, ("instruction",), ("self_harm",)),
)
PAIR_SPAN = 120
# Where pairs rank among the lists' own categories (before the list at that index).
PAIR_RANK = {"sexual/minors": 1, "illicit": 1, "self-harm/instructions": 2}

# Fiction and idiom that would otherwise match a list.
ALLOWED = """
    blood_moon* blood_oath* blood_magic blood_red bad_blood blood_relative* blood_feud*
    blood_pact* cold_blood* first_blood blood_orange* blood_brother* blood_sister*
    naked_blade* naked_steel naked_sword* naked_eye naked_flame* naked_truth naked_ambition
    suicide_mission* suicide_squad* suicide_run* suicidal_charge* suicide_charge*
    shiitake shitake blue_tit* great_tit* coal_tit*
"""
