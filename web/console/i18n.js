// UI strings of the reviewer console. English is the reference; a language is a table with the same keys (missing
// keys fall back to English). The language comes from `?lang=`, then the choice saved in this browser
// (localStorage `facereview.console.lang`), then `navigator.languages`. `{name}` placeholders are filled by
// t(key, {name: ...}). Texts that come from the server (reason texts, question texts) are shown as sent.

export const STRINGS = {
  en: {
    title: 'Review console',
    brand: 'facereview',
    skip: 'Skip to content',
    nav_label: 'Console sections',
    nav_queue: 'Queue',
    nav_audit: 'Audit log',
    nav_admin: 'Accounts',
    logout: 'Sign out',
    whoami: '{name} · {role}',
    language: 'Language',
    loading: 'Loading…',
    role_reviewer: 'Reviewer',
    role_supervisor: 'Supervisor',
    role_qa: 'QA',
    role_admin: 'Admin',

    // login
    login_title: 'Sign in — review console',
    login_heading: 'Sign in',
    login_intro: 'Lender staff only. Everything you view and decide is recorded in the audit log.',
    username: 'Username',
    password: 'Password',
    sign_in: 'Sign in',
    signing_in: 'Signing in…',
    login_bad: 'Wrong username or password.',
    login_locked: 'Too many failed attempts: this account is locked for 15 minutes.',
    login_missing: 'Enter your username and password.',
    login_failed: 'Sign-in failed ({status}). Try again.',
    login_expired: 'Please sign in to continue.',

    // common
    err_forbidden: 'You do not have permission to see this page.',
    err_not_found: 'Not found.',
    err_generic: 'Something went wrong: {message}',
    err_network: 'The server could not be reached. Check the connection and try again.',
    err_csrf: 'Your sign-in is no longer valid for this page. Reload the page and try again.',
    not_available: 'Not available',
    none: '—',
    refresh: 'Refresh',
    prev: 'Previous',
    next: 'Next',
    seconds: '{s} s',

    // queue
    queue_heading: 'Review queue',
    filters: 'Filters',
    filter_status: 'Status',
    status_open: 'Open',
    status_escalated: 'Escalated',
    status_decided: 'Decided',
    status_all: 'All',
    filter_decision: 'Automatic decision',
    any: 'Any',
    decision_review: 'Review',
    decision_reject: 'Reject',
    decision_pass: 'Pass',
    decision_failed: 'Analysis failed',
    decision_none: 'No verdict',
    filter_reason: 'Reason code starts with',
    filter_reason_ph: 'e.g. liveness',
    filter_assignee: 'Assignee',
    assignee_all: 'Anyone',
    assignee_me: 'Me',
    assignee_none: 'Unassigned',
    sort: 'Sort',
    'sort_-age': 'Oldest first',
    sort_age: 'Newest first',
    'sort_-risk': 'Highest risk first',
    sort_risk: 'Lowest risk first',
    col_applicant: 'Applicant',
    col_business: 'Business',
    col_decision: 'Decision',
    col_risk: 'Risk',
    col_top_reason: 'Top reason',
    col_age: 'Age',
    col_status: 'Review status',
    col_assignee: 'Assignee',
    queue_empty: 'No sessions match these filters.',
    queue_count: '{from}–{to} of {total}',
    queue_sla: 'SLA: {hours} h from the verdict',
    sla_ok: 'On time',
    sla_due_soon: 'Due soon',
    sla_overdue: 'Overdue',
    sla_left: '{time} left',
    sla_over: '{time} over',
    review_open: 'Open',
    review_escalated: 'Escalated',
    review_approved: 'Approved',
    review_rejected: 'Rejected',
    dur_d: '{d} d {h} h',
    dur_h: '{h} h {m} min',
    dur_m: '{m} min',

    // session header
    back_to_queue: '← Back to the queue',
    session_heading: 'Session {id}',
    applicant: 'Applicant',
    business: 'Business',
    decision: 'Automatic decision',
    risk: 'Risk score',
    review_status: 'Review status',
    assignee: 'Assignee',
    assign_to_me: 'Assign to me',
    release: 'Unassign',
    assigned_ok: 'Assignment saved.',
    export: 'Download evidence (zip)',
    session_audit: 'Audit trail of this session',
    call_state: 'Call',
    created: 'Created',
    ended: 'Ended {time} ({reason})',

    // player and timelines
    recording: 'Recording',
    part_of: 'Part {n} of {total}',
    no_recording: 'No recording is available for this session.',
    video_error: 'The recording could not be played in this browser.',
    play: 'Play',
    pause: 'Pause',
    back5: 'Back 5 s',
    fwd5: 'Forward 5 s',
    clock_label: 'Position in the call',
    timelines: 'Timelines',
    timelines_hint: 'Click any timeline to jump there. Arrow keys move by 1 s (Shift: 10 s).',
    timelines_missing:
      'Timelines are not available for this session (the analysis did not finish, or the session was recorded before timelines existed).',
    timeline_slider: 'Call timeline',
    tl_axis: 'Time, questions and reasons',
    tl_liveness: 'Liveness',
    tl_expression: 'Expression',
    tl_speech: 'Speech and voice',
    tl_quality: 'Stream quality',
    eye_open: 'eye openness',
    mouth_open: 'mouth openness',
    yaw: 'head yaw (±60°)',
    challenge_window: 'challenge',
    faces_none: 'no face',
    faces_multi: 'several faces',
    speech: 'speech',
    voice_sim: 'voice similarity',
    fps: 'fps',
    height_px: 'height',
    kbps: 'kbps',
    series_missing: 'no data',
    readout_at: 'At {t}',
    r_eye: 'eyes {v}',
    r_mouth: 'mouth {v}',
    r_yaw: 'yaw {v}°',
    r_expr: '{label} {p} %',
    r_speech: 'speaking',
    r_silence: 'silence',
    r_voice: 'voice similarity {v}',
    r_quality: '{fps} fps, {height} p, {kbps} kbps',
    r_faces: '{n} faces',
    quality: 'Call quality',
    quality_missing: 'No quality summary for this session.',
    q_media: 'Media length',
    q_mean_fps: 'Mean frame rate',
    q_freezes: 'Freezes',
    q_freezes_v: '{n} ({s} s in all)',
    q_first_frame: 'Time to first frame',
    q_bytes: 'Bytes received',
    q_parts: 'Recording parts',
    q_adapt: 'Bitrate adaptations',

    // reasons
    reasons: 'Reasons',
    reasons_hint: 'Most severe first. Click a reason to see it in the recording.',
    reasons_missing: 'No verdict is available for this session (the analysis failed or has not finished).',
    reasons_none: 'The verdict lists no reasons.',
    reason_at: 'at {t}',
    reason_range: '{a} – {b}',
    no_evidence_time: 'no time range',
    frame_alt: 'Frame at {t}',
    frame_missing: 'no frame',
    seek_to: 'Show in the recording at {t}',

    // location
    location: 'Location',
    declared: 'Declared place',
    declared_missing: 'No declared place for this session.',
    fixes: 'Phone location fixes',
    fixes_none: 'No location fixes were received during the call.',
    location_missing: 'Location data is not available.',
    col_time: 'Time',
    col_coords: 'Coordinates',
    col_accuracy: 'Accuracy',
    col_distance: 'Distance',
    col_source: 'Source',
    metres: '{m} m',
    km: '{km} km',
    flagged: 'Flagged',
    gcj_note: 'Distances compare coordinates in the same system (GCJ-02 converted where needed).',

    // prompts and challenges
    prompts: 'Prompts and challenges',
    questions: 'Questions',
    questions_none: 'No questions were asked.',
    challenges: 'Liveness challenges',
    challenges_none: 'No challenges were issued.',
    interview_missing: 'Interview data is not available.',
    asked_at: 'asked at {t}',
    issued_at: 'issued at {t}, {s} s to answer',
    result_passed: 'Passed',
    result_failed: 'Failed',
    result_unknown: 'No result',
    ch_turn_left: 'Turn head left',
    ch_turn_right: 'Turn head right',
    ch_blink: 'Blink',
    ch_open_mouth: 'Open mouth',
    ch_read_digits: 'Read digits {digits}',

    // decision
    decision_heading: 'Your decision',
    action_legend: 'Action',
    action_approve: 'Approve',
    action_reject: 'Reject',
    action_escalate: 'Escalate',
    reason_label: 'Reason (10–2000 characters)',
    reason_count: '{n} / 2000',
    submit_decision: 'Record decision',
    submitting: 'Saving…',
    err_action: 'Choose approve, reject or escalate.',
    err_reason_short: 'Write a reason of at least 10 characters.',
    err_reason_long: 'The reason must be at most 2000 characters.',
    decided_ok: 'Decision recorded.',
    cannot_decide:
      'You cannot decide this session: it is escalated or already decided, or your role does not allow decisions.',
    history: 'Decision history',
    history_empty: 'No decisions yet.',
    history_by: '{name} · {time}',
    hist_approve: 'Approved',
    hist_reject: 'Rejected',
    hist_escalate: 'Escalated',

    // audit
    audit_heading: 'Audit log',
    audit_session: 'Session id',
    audit_apply: 'Show',
    audit_verify: 'Verify the chain',
    audit_ok: 'Chain intact: {n} entries.',
    audit_bad: 'Chain broken at entry {seq}: {problem}',
    audit_empty: 'No entries.',
    audit_more: 'Older entries',
    col_seq: '#',
    col_when: 'When',
    col_actor: 'Actor',
    col_action: 'Action',
    col_session: 'Session',
    col_detail: 'Detail',
    col_hash: 'Hash',

    // admin
    admin_heading: 'Accounts',
    col_username: 'Username',
    col_display: 'Display name',
    col_role: 'Role',
    col_state: 'State',
    col_actions: 'Actions',
    state_active: 'Active',
    state_disabled: 'Disabled',
    state_locked: 'Locked',
    add_user: 'Add an account',
    display_name: 'Display name',
    role: 'Role',
    create_user: 'Create',
    new_password: 'New password',
    set_password: 'Set password',
    disable: 'Disable',
    enable: 'Enable',
    save_role: 'Change role',
    pw_policy: '12–256 characters',
    user_created: 'Account {name} created.',
    user_updated: 'Account {name} updated.',
    users_none: 'No accounts.',
  },

  'zh-CN': {
    title: '审核控制台',
    brand: 'facereview',
    skip: '跳到主要内容',
    nav_label: '控制台栏目',
    nav_queue: '审核队列',
    nav_audit: '审计日志',
    nav_admin: '账户管理',
    logout: '退出登录',
    whoami: '{name} · {role}',
    language: '语言',
    loading: '加载中…',
    role_reviewer: '审核员',
    role_supervisor: '主管',
    role_qa: '质检',
    role_admin: '管理员',

    login_title: '登录 — 审核控制台',
    login_heading: '登录',
    login_intro: '仅限贷款机构员工使用。您查看和作出的所有决定都会记录在审计日志中。',
    username: '用户名',
    password: '密码',
    sign_in: '登录',
    signing_in: '正在登录…',
    login_bad: '用户名或密码错误。',
    login_locked: '失败次数过多：该账户已锁定 15 分钟。',
    login_missing: '请输入用户名和密码。',
    login_failed: '登录失败（{status}），请重试。',
    login_expired: '请登录后继续。',

    err_forbidden: '您无权查看此页面。',
    err_not_found: '未找到。',
    err_generic: '出现错误：{message}',
    err_network: '无法连接服务器，请检查网络后重试。',
    err_csrf: '您的登录对此页面已失效，请刷新页面后重试。',
    not_available: '不可用',
    none: '—',
    refresh: '刷新',
    prev: '上一页',
    next: '下一页',
    seconds: '{s} 秒',

    queue_heading: '审核队列',
    filters: '筛选',
    filter_status: '状态',
    status_open: '待处理',
    status_escalated: '已升级',
    status_decided: '已决定',
    status_all: '全部',
    filter_decision: '自动判定',
    any: '任意',
    decision_review: '复核',
    decision_reject: '拒绝',
    decision_pass: '通过',
    decision_failed: '分析失败',
    decision_none: '无判定',
    filter_reason: '原因代码前缀',
    filter_reason_ph: '例如 liveness',
    filter_assignee: '处理人',
    assignee_all: '任何人',
    assignee_me: '我',
    assignee_none: '未分配',
    sort: '排序',
    'sort_-age': '最早的在前',
    sort_age: '最新的在前',
    'sort_-risk': '风险最高在前',
    sort_risk: '风险最低在前',
    col_applicant: '申请人',
    col_business: '商户',
    col_decision: '判定',
    col_risk: '风险',
    col_top_reason: '主要原因',
    col_age: '等待时长',
    col_status: '审核状态',
    col_assignee: '处理人',
    queue_empty: '没有符合筛选条件的会话。',
    queue_count: '第 {from}–{to} 条，共 {total} 条',
    queue_sla: '时限：判定后 {hours} 小时',
    sla_ok: '按时',
    sla_due_soon: '即将到期',
    sla_overdue: '已超时',
    sla_left: '剩余 {time}',
    sla_over: '超时 {time}',
    review_open: '待处理',
    review_escalated: '已升级',
    review_approved: '已批准',
    review_rejected: '已拒绝',
    dur_d: '{d} 天 {h} 小时',
    dur_h: '{h} 小时 {m} 分钟',
    dur_m: '{m} 分钟',

    back_to_queue: '← 返回队列',
    session_heading: '会话 {id}',
    applicant: '申请人',
    business: '商户',
    decision: '自动判定',
    risk: '风险分',
    review_status: '审核状态',
    assignee: '处理人',
    assign_to_me: '分配给我',
    release: '取消分配',
    assigned_ok: '分配已保存。',
    export: '下载证据包（zip）',
    session_audit: '此会话的审计记录',
    call_state: '通话',
    created: '创建时间',
    ended: '结束于 {time}（{reason}）',

    recording: '录像',
    part_of: '第 {n} 段，共 {total} 段',
    no_recording: '此会话没有可用的录像。',
    video_error: '此浏览器无法播放该录像。',
    play: '播放',
    pause: '暂停',
    back5: '后退 5 秒',
    fwd5: '前进 5 秒',
    clock_label: '通话中的位置',
    timelines: '时间线',
    timelines_hint: '点击任意时间线即可跳转。方向键每次移动 1 秒（按住 Shift 为 10 秒）。',
    timelines_missing: '此会话没有时间线（分析未完成，或会话录制于时间线功能之前）。',
    timeline_slider: '通话时间线',
    tl_axis: '时间、问题和原因',
    tl_liveness: '活体',
    tl_expression: '表情',
    tl_speech: '语音与声纹',
    tl_quality: '视频流质量',
    eye_open: '睁眼程度',
    mouth_open: '张嘴程度',
    yaw: '头部偏转（±60°）',
    challenge_window: '挑战',
    faces_none: '无人脸',
    faces_multi: '多张人脸',
    speech: '说话',
    voice_sim: '声纹相似度',
    fps: '帧率',
    height_px: '高度',
    kbps: 'kbps',
    series_missing: '无数据',
    readout_at: '{t} 处',
    r_eye: '眼睛 {v}',
    r_mouth: '嘴 {v}',
    r_yaw: '偏转 {v}°',
    r_expr: '{label} {p}%',
    r_speech: '正在说话',
    r_silence: '静音',
    r_voice: '声纹相似度 {v}',
    r_quality: '{fps} 帧/秒，{height}p，{kbps} kbps',
    r_faces: '{n} 张人脸',
    quality: '通话质量',
    quality_missing: '此会话没有质量摘要。',
    q_media: '媒体时长',
    q_mean_fps: '平均帧率',
    q_freezes: '卡顿',
    q_freezes_v: '{n} 次（共 {s} 秒）',
    q_first_frame: '首帧时间',
    q_bytes: '接收字节数',
    q_parts: '录像段数',
    q_adapt: '码率调整次数',

    reasons: '原因',
    reasons_hint: '最严重的在前。点击原因即可在录像中查看。',
    reasons_missing: '此会话没有判定结果（分析失败或尚未完成）。',
    reasons_none: '判定结果未列出原因。',
    reason_at: '于 {t}',
    reason_range: '{a} – {b}',
    no_evidence_time: '无时间范围',
    frame_alt: '{t} 处的画面',
    frame_missing: '无画面',
    seek_to: '在录像中查看 {t}',

    location: '位置',
    declared: '申报地点',
    declared_missing: '此会话没有申报地点。',
    fixes: '手机定位',
    fixes_none: '通话期间未收到定位。',
    location_missing: '位置数据不可用。',
    col_time: '时间',
    col_coords: '坐标',
    col_accuracy: '精度',
    col_distance: '距离',
    col_source: '来源',
    metres: '{m} 米',
    km: '{km} 公里',
    flagged: '已标记',
    gcj_note: '距离在同一坐标系下计算（必要时已转换为 GCJ-02）。',

    prompts: '问题与挑战',
    questions: '问题',
    questions_none: '未提问。',
    challenges: '活体挑战',
    challenges_none: '未发出挑战。',
    interview_missing: '面谈数据不可用。',
    asked_at: '提问于 {t}',
    issued_at: '发出于 {t}，限时 {s} 秒',
    result_passed: '通过',
    result_failed: '未通过',
    result_unknown: '无结果',
    ch_turn_left: '向左转头',
    ch_turn_right: '向右转头',
    ch_blink: '眨眼',
    ch_open_mouth: '张嘴',
    ch_read_digits: '读出数字 {digits}',

    decision_heading: '您的决定',
    action_legend: '操作',
    action_approve: '批准',
    action_reject: '拒绝',
    action_escalate: '升级',
    reason_label: '理由（10–2000 个字符）',
    reason_count: '{n} / 2000',
    submit_decision: '提交决定',
    submitting: '正在保存…',
    err_action: '请选择批准、拒绝或升级。',
    err_reason_short: '请填写至少 10 个字符的理由。',
    err_reason_long: '理由最多 2000 个字符。',
    decided_ok: '决定已记录。',
    cannot_decide: '您不能对此会话作出决定：它已升级或已有决定，或您的角色不允许作出决定。',
    history: '决定历史',
    history_empty: '尚无决定。',
    history_by: '{name} · {time}',
    hist_approve: '已批准',
    hist_reject: '已拒绝',
    hist_escalate: '已升级',

    audit_heading: '审计日志',
    audit_session: '会话 ID',
    audit_apply: '显示',
    audit_verify: '校验哈希链',
    audit_ok: '哈希链完整：共 {n} 条。',
    audit_bad: '哈希链在第 {seq} 条断开：{problem}',
    audit_empty: '没有记录。',
    audit_more: '更早的记录',
    col_seq: '#',
    col_when: '时间',
    col_actor: '操作者',
    col_action: '操作',
    col_session: '会话',
    col_detail: '详情',
    col_hash: '哈希',

    admin_heading: '账户管理',
    col_username: '用户名',
    col_display: '显示名称',
    col_role: '角色',
    col_state: '状态',
    col_actions: '操作',
    state_active: '启用',
    state_disabled: '已停用',
    state_locked: '已锁定',
    add_user: '添加账户',
    display_name: '显示名称',
    role: '角色',
    create_user: '创建',
    new_password: '新密码',
    set_password: '设置密码',
    disable: '停用',
    enable: '启用',
    save_role: '修改角色',
    pw_policy: '12–256 个字符',
    user_created: '账户 {name} 已创建。',
    user_updated: '账户 {name} 已更新。',
    users_none: '没有账户。',
  },
};

export const LANGS = [
  ['en', 'English'],
  ['zh-CN', '简体中文'],
];

const STORE_KEY = 'facereview.console.lang';

/** The language to use: `?lang=`, then the saved choice, then the browser's languages; English by default. */
export function pickLang(search = location.search, languages = navigator.languages || [navigator.language]) {
  let saved = null;
  try {
    saved = localStorage.getItem(STORE_KEY);
  } catch {
    /* storage blocked */
  }
  const wanted = [new URLSearchParams(search).get('lang'), saved, ...(languages || [])].filter(Boolean);
  for (const w of wanted) {
    const l = w.toLowerCase();
    if (l === 'en' || l.startsWith('en-')) return 'en';
    // zh, zh-CN, zh-Hans, zh-SG: simplified Chinese (no traditional table yet: zh-TW/zh-HK fall through)
    if (l === 'zh' || l === 'zh-cn' || l === 'zh-sg' || l.startsWith('zh-hans')) return 'zh-CN';
  }
  return 'en';
}

/** Remember a language chosen in the page (used by the next page load). */
export function saveLang(l) {
  try {
    localStorage.setItem(STORE_KEY, l);
  } catch {
    /* storage blocked */
  }
}

let lang = 'en';

export function setLang(l) {
  lang = STRINGS[l] ? l : 'en';
  document.documentElement.lang = lang;
}

export function getLang() {
  return lang;
}

export function t(key, vars = {}) {
  const s = (STRINGS[lang] && STRINGS[lang][key]) ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** Fill `data-i18n` (text), `data-i18n-label` (aria-label), `data-i18n-ph` (placeholder) under root. */
export function applyI18n(root = document, titleKey = 'title') {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-ph]')) el.setAttribute('placeholder', t(el.dataset.i18nPh));
  document.title = t(titleKey);
}

/** A wall-clock time (Unix ms) in the page's language. */
export function formatWall(ms) {
  if (ms == null || !Number.isFinite(Number(ms))) return t('none');
  return new Date(Number(ms)).toLocaleString(lang, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** A duration in ms as "2 d 3 h", "3 h 12 min" or "12 min". */
export function formatDuration(ms) {
  const min = Math.max(0, Math.floor(Number(ms) / 60000));
  const d = Math.floor(min / 1440);
  const h = Math.floor((min % 1440) / 60);
  const m = min % 60;
  if (d > 0) return t('dur_d', { d, h });
  if (h > 0) return t('dur_h', { h, m });
  return t('dur_m', { m });
}

/** Media time in seconds as m:ss.s (h:mm:ss.s past an hour). */
export function formatMedia(s) {
  if (s == null || !Number.isFinite(s)) return '–:––';
  const neg = s < 0;
  const tenths = Math.round(Math.abs(s) * 10);
  const h = Math.floor(tenths / 36000);
  const m = Math.floor((tenths % 36000) / 600);
  const ss = ((tenths % 600) / 10).toFixed(1).padStart(4, '0');
  const body = h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  return neg ? `-${body}` : body;
}
