# %% [markdown]
# # Facilitator · The room, live
#
# For whoever runs Cache Lab in a room: every learner's **locked predictions** and
# **exercise checks**, as they happen, without anyone raising a hand. Learners are not
# asked to do anything: their notebooks report through labkit once the host names a room.
#
# | | |
# |---|---|
# | **What you'll do** | open the room's live grid; read where the room is stuck and what it predicted; rehearse the view with simulated learners; export the grid |
# | **What you need** | a hub (or any shared Redis) where you set `LABKIT_ROOM`, and your hub user listed in `LABKIT_ROOM_HOSTS` (see *Setting up a room* in `docs/facilitator-guide.md`). Without a room this notebook still runs: it shows your own progress and a practice room. |
# | **Time** | 5 minutes to open and read; then keep it on a second screen while the room works |
#
# **What learners send, and what they never send.** Only when `LABKIT_ROOM` is set, each
# learner's kernel sends: the notebook and section they are on, each exercise check
# (passed or not, the attempt count, and the *name* of the replay that failed), and each
# locked prediction (its id and the option chosen). Never their code or their answers.
# Every learner's first notebook line says so, and `labkit.room.leave()` turns it off.

# %%
import labkit
from labkit import room

labkit.errors.install_notebook_handler()
print(room.describe())

# %% [markdown]
# ## The room
#
# The view below reads the room every 3 seconds and redraws itself: leave it open, never
# re-run the cell. Without a room it shows your own progress, the same file notebook 00's
# progress table reads.

# %%
view = room.view()
view

# %% [markdown]
# ### Reading the view
#
# * **The grid**: one row per learner, one column per exercise anyone has checked.
#   ✅ *passed*; ✏️ *trying* (checked, not passed yet, with the attempt count; hover for the
#   replay that failed); · *not started*. **where** is the last notebook section labkit saw:
#   its start, a prediction or an exercise, with how long ago.
# * **Stuck**: the exercises with the most learners trying and not passed, each with the
#   replay that fails most often. That name is the discussion to have: "the stale-set race
#   breaks most of you - who can say why the delete must come after the write?"
# * **The room's predictions**: pick a prediction; the bars are the room's answers, taken
#   from the widgets themselves. Keep **Reveal the measured answer** off while the room
#   argues; switch it on after they have run the experiment.
# * **Export the grid as CSV** saves the grid next to this notebook (learner, notebook,
#   exercise, status, attempts, failing replay).
#
# ## Rehearse before the day
#
# A practice room: twelve simulated learners working through notebooks 00 and 01,
# publishing through the same code a learner's kernel uses, to a room of their own on the
# same Redis. They keep working every two seconds; watch the grid fill in and the poll
# move without re-running anything.

# %%
practice = room.rehearse(learners=12).play(every_seconds=2)
practice_view = practice.view()
practice_view

# %% [markdown]
# ## For scripts
#
# `room.snapshot("<room>")` returns the same records as rows, for a script, a test or a
# spreadsheet: `.exercises` (learner, notebook, exercise, passed, attempts, failing),
# `.predictions` (learner, notebook, question, answer) and `.learners` (where each is).

# %%
snap = practice.read()
print(f"{len(snap.learners)} learners, {sum(r['passed'] for r in snap.exercises)} exercises passed")
print("00 speedup:", snap.distribution("00", "speedup"))
labkit.tables.Table(snap.exercises[:6], "The first rows of snapshot().exercises")

# %% [markdown]
# ## After the room
#
# Records expire by themselves 12 hours after a learner's last one. To remove one
# learner's records at once (someone asks, or a test account):
#
# ```python
# room.remove("alice")          # the room named by LABKIT_ROOM; or room.remove("alice", "workshop-dec")
# ```
#
# The last cell stops both views and deletes the practice room.

# %%
practice_view.stop()
view.stop()
practice.close()
