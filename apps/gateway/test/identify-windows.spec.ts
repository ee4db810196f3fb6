import { IdentifyWindows } from '../src/live-events/identify-windows';

describe('IdentifyWindows', () => {
  it("answers for the window's own session: events of others, or before it began, do not count", () => {
    const windows = new IdentifyWindows();
    const early = windows.begin();
    windows.heardSession('a@x.com', 's1');
    const late = windows.begin();
    windows.heardSession('a@x.com', 's2');
    windows.heardSession('b@x.com', 's1');
    expect(late.close('a@x.com', 's1')).toBe(false);
    expect(early.close('a@x.com', 's1')).toBe(true);
    expect(windows.size).toBe(0);
  });

  it('counts an event of every session for every window open then, not for one begun after', () => {
    const windows = new IdentifyWindows();
    const before = windows.begin();
    windows.heardEveryone();
    const after = windows.begin();
    expect(before.close('a@x.com', 's1')).toBe(true);
    expect(after.close('a@x.com', 's1')).toBe(false);
  });

  it('keeps nothing while no window is open, and forgets what only closed windows could ask about', () => {
    const windows = new IdentifyWindows();
    windows.heardSession('a@x.com', 's1');
    windows.heardEveryone();
    const first = windows.begin();
    windows.heardSession('a@x.com', 's1');
    const second = windows.begin();
    windows.heardSession('a@x.com', 's2');
    const listed = () => (windows as unknown as { bySession: Map<string, number> }).bySession.size;
    expect(listed()).toBe(2);
    expect(first.close('a@x.com', 's2')).toBe(true);
    // s1's event came before the second window began: no window left can ask for it
    expect(listed()).toBe(1);
    expect(second.close('a@x.com', 's1')).toBe(false);
    expect(listed()).toBe(0);
  });

  it('past its bound, counts a dropped session as heard for every window open then (a lookup too many, never one too few)', () => {
    const windows = new IdentifyWindows(2);
    const open = windows.begin();
    windows.heardSession('a@x.com', 's1');
    windows.heardSession('a@x.com', 's2');
    windows.heardSession('a@x.com', 's3');
    const later = windows.begin();
    windows.heardSession('a@x.com', 's4');
    expect((windows as unknown as { bySession: Map<string, number> }).bySession.size).toBe(2);
    expect(open.close('z@x.com', 's9')).toBe(true);
    expect(later.close('z@x.com', 's9')).toBe(false);
    expect(later.close('a@x.com', 's4')).toBe(true);
  });

  it('an Identify that gave up (closed without a session) counts nothing', () => {
    const windows = new IdentifyWindows();
    const gaveUp = windows.begin();
    windows.heardSession('a@x.com', 's1');
    gaveUp.close();
    expect(windows.size).toBe(0);
    const next = windows.begin();
    expect(next.close('a@x.com', 's1')).toBe(false);
  });
});
