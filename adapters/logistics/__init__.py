"""Carriers behind the logistics ports (DESIGN.md §9): SF Express (``sf``), Kuaidi100
(``kuaidi100``, tracking only), EMS (``ems``, tracking; partly unverified) and ``internal`` (our own
courier, who reports through the courier API). Per carrier: pure functions that build requests and
parse responses, a thin client, a settings class and a status table."""
