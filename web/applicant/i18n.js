// UI strings of the applicant page. English is the reference; add a language by adding a table with the same keys
// (missing keys fall back to English). The language comes from `?lang=` first, then `navigator.languages`.
// `{name}` placeholders are filled by t(key, {name: ...}).

export const STRINGS = {
  en: {
    title: 'Video interview',
    loading: 'Opening your interview…',
    for_business: 'Loan application: {business}',
    consent_heading: 'Before we start',
    consent_intro: 'This is a short video interview for your loan application. Please read what we record and why.',
    consent_what: 'What is recorded',
    consent_why: 'Why',
    consent_why_text:
      'To confirm your identity, check that a real person is present (liveness), and verify your business for the loan application.',
    consent_keep: 'How long it is kept',
    consent_keep_text: 'The recording is kept for {days} days, then deleted.',
    consent_keep_unknown: 'The recording is kept only as long as the lender’s rules require, then deleted.',
    consent_who: 'Who sees it',
    consent_who_text:
      'Only the lender’s staff who review your application, and automated checks. It is not shared for any other purpose.',
    consent_lender_text: 'Lender’s notice',
    rec_video: 'Video from your front camera',
    rec_audio: 'Audio from your microphone',
    rec_location: 'Your location during the call',
    rec_device: 'Device information (browser, screen size, processor count)',
    agree: 'I agree, start',
    decline: 'Decline',
    declined_heading: 'No problem',
    declined_text:
      'Nothing was recorded. If you change your mind, open the link again. You can also contact your lender to continue your application another way.',
    setup_location: 'Checking your location…',
    setup_location_help: 'Please allow location access if your phone asks.',
    setup_camera: 'Starting your camera…',
    setup_camera_help: 'Please allow camera and microphone access if your phone asks.',
    location_unavailable_note: 'Location is not available — the interview continues without it.',
    location_ok_note: 'Location shared',
    connecting: 'Connecting…',
    reconnecting: 'Connection lost. Reconnecting…',
    frame_face: 'Keep your face inside the oval',
    face_visible: 'Face visible',
    face_not_visible: 'Face not visible',
    question_of: 'Question {index} of {total}',
    wait_for_question: 'Please wait, the first question is coming.',
    seconds_left: '{s} s',
    hangup: 'Hang up',
    hangup_confirm_title: 'End the interview?',
    hangup_confirm_text: 'If you hang up now, the interview ends and may be incomplete.',
    hangup_yes: 'Yes, hang up',
    hangup_no: 'Continue interview',
    done_heading: 'Thank you',
    done_text: 'Thank you, the interview is complete. You can close this page.',
    hungup_heading: 'Interview ended',
    hungup_text: 'You ended the interview. You can close this page.',
    ended_text: 'The interview has ended.',
    error_heading: 'Something went wrong',
    retry: 'Try again',
    no_mic_note: 'No microphone found — continuing with video only.',
    video_paused: 'Weak connection: video paused, the interview continues with sound.',
    ch_turn_left: 'Turn your head to the left',
    ch_turn_right: 'Turn your head to the right',
    ch_blink: 'Blink a few times',
    ch_open_mouth: 'Open your mouth',
    ch_read_digits: 'Read these digits aloud',
    err_unknown_token: 'This interview link is not valid. Please check the link you received, or ask your lender for a new one.',
    err_expired: 'This interview link has expired. Please ask your lender for a new link.',
    err_finished: 'This interview has already been completed. Thank you.',
    err_already_joined:
      'This interview has already been opened on another device. Please continue there, or ask your lender for a new link.',
    err_already_live: 'This interview is already running on another device or browser tab.',
    err_consent_required: 'Please accept the consent before the interview starts.',
    err_unauthorized: 'This device is not allowed to join this interview. Please open the link on the device where you accepted the consent.',
    err_no_video: 'Your browser could not send video. Please try an up-to-date Chrome or Safari.',
    err_unsupported_codec: 'Your browser’s video format is not supported. Please try an up-to-date Chrome or Safari.',
    err_at_capacity: 'The service is busy right now. Please try again in a few minutes.',
    err_signalling: 'The video connection could not be started (error {code}). Please try again.',
    err_camera_denied:
      'Camera or microphone access was blocked. Allow access for this site in your browser settings, then try again.',
    err_no_camera: 'No camera was found on this device. Please use a phone with a front camera.',
    err_camera_in_use: 'Your camera is being used by another app. Close other apps that use the camera, then try again.',
    err_camera_failed: 'The camera could not be started. Please try again.',
    err_media_unsupported:
      'This browser cannot use the camera here. Open the link in an up-to-date Chrome or Safari (the page must be opened over https).',
    err_webrtc_unsupported: 'This browser does not support video calls. Please use an up-to-date Chrome or Safari.',
    err_connection_lost: 'The connection was lost and could not be restored. Check your network, then open the link again.',
    err_network: 'We could not reach the server. Check your network and try again.',
    err_server: 'Something went wrong on our side. Please try again later.',
    err_bad_link: 'This page must be opened from your interview link.',
  },
  'zh-CN': {
    title: '视频面谈',
    loading: '正在打开您的面谈…',
    for_business: '贷款申请：{business}',
    consent_heading: '开始之前',
    consent_intro: '这是您贷款申请的简短视频面谈。请阅读我们记录的内容及原因。',
    consent_what: '记录的内容',
    consent_why: '原因',
    consent_why_text: '用于确认您的身份、确认是真人在场（活体检测），并为贷款申请核实您的经营情况。',
    consent_keep: '保存期限',
    consent_keep_text: '录像保存 {days} 天，之后删除。',
    consent_keep_unknown: '录像仅按贷款机构规定的期限保存，之后删除。',
    consent_who: '谁可以查看',
    consent_who_text: '仅限审核您申请的贷款机构工作人员及自动化检查，不会用于其他目的。',
    consent_lender_text: '贷款机构声明',
    rec_video: '前置摄像头的视频',
    rec_audio: '麦克风的声音',
    rec_location: '通话期间您的位置',
    rec_device: '设备信息（浏览器、屏幕尺寸、处理器数量）',
    agree: '我同意，开始',
    decline: '拒绝',
    declined_heading: '没关系',
    declined_text: '未记录任何内容。如果您改变主意，可以再次打开链接，也可以联系贷款机构以其他方式继续申请。',
    setup_location: '正在获取您的位置…',
    setup_location_help: '如手机询问，请允许访问位置信息。',
    setup_camera: '正在启动摄像头…',
    setup_camera_help: '如手机询问，请允许访问摄像头和麦克风。',
    location_unavailable_note: '无法获取位置，面谈将继续进行。',
    location_ok_note: '已共享位置',
    connecting: '正在连接…',
    reconnecting: '连接中断，正在重新连接…',
    frame_face: '请将脸部保持在椭圆框内',
    face_visible: '已检测到脸部',
    face_not_visible: '未检测到脸部',
    question_of: '第 {index} / {total} 题',
    wait_for_question: '请稍候，第一个问题即将出现。',
    seconds_left: '{s} 秒',
    hangup: '挂断',
    hangup_confirm_title: '结束面谈？',
    hangup_confirm_text: '如果现在挂断，面谈将结束，可能不完整。',
    hangup_yes: '确定挂断',
    hangup_no: '继续面谈',
    done_heading: '谢谢',
    done_text: '谢谢，面谈已完成。您可以关闭此页面。',
    hungup_heading: '面谈已结束',
    hungup_text: '您已结束面谈。您可以关闭此页面。',
    ended_text: '面谈已结束。',
    error_heading: '出现问题',
    retry: '重试',
    no_mic_note: '未找到麦克风，仅使用视频继续。',
    video_paused: '网络较弱：视频已暂停，面审将以语音继续。',
    ch_turn_left: '请向左转头',
    ch_turn_right: '请向右转头',
    ch_blink: '请眨几次眼',
    ch_open_mouth: '请张开嘴',
    ch_read_digits: '请大声读出以下数字',
    err_unknown_token: '此面谈链接无效。请检查您收到的链接，或向贷款机构索取新链接。',
    err_expired: '此面谈链接已过期。请向贷款机构索取新链接。',
    err_finished: '此面谈已完成。谢谢。',
    err_already_joined: '此面谈已在另一台设备上打开。请在该设备上继续，或向贷款机构索取新链接。',
    err_already_live: '此面谈正在另一台设备或浏览器标签页中进行。',
    err_consent_required: '面谈开始前请先同意相关条款。',
    err_unauthorized: '此设备无权加入该面谈。请在您同意条款的设备上打开链接。',
    err_no_video: '您的浏览器无法发送视频。请使用最新版 Chrome 或 Safari。',
    err_unsupported_codec: '不支持您浏览器的视频格式。请使用最新版 Chrome 或 Safari。',
    err_at_capacity: '服务当前繁忙，请几分钟后重试。',
    err_signalling: '无法建立视频连接（错误 {code}）。请重试。',
    err_camera_denied: '摄像头或麦克风权限被阻止。请在浏览器设置中允许本网站访问，然后重试。',
    err_no_camera: '此设备未找到摄像头。请使用带前置摄像头的手机。',
    err_camera_in_use: '摄像头正被其他应用使用。请关闭其他使用摄像头的应用后重试。',
    err_camera_failed: '无法启动摄像头，请重试。',
    err_media_unsupported: '此浏览器无法在此使用摄像头。请用最新版 Chrome 或 Safari 打开链接（页面须通过 https 打开）。',
    err_webrtc_unsupported: '此浏览器不支持视频通话。请使用最新版 Chrome 或 Safari。',
    err_connection_lost: '连接已中断且无法恢复。请检查网络后重新打开链接。',
    err_network: '无法连接服务器。请检查网络后重试。',
    err_server: '我们这边出现问题，请稍后重试。',
    err_bad_link: '请通过您的面谈链接打开此页面。',
  },
};

/** The language to use: `?lang=xx` if supported, else the first supported of navigator.languages, else 'en'. */
export function pickLang(search = location.search, languages = navigator.languages || [navigator.language]) {
  const wanted = [new URLSearchParams(search).get('lang'), ...(languages || [])].filter(Boolean);
  for (const w of wanted) {
    const l = w.toLowerCase();
    if (l === 'en' || l.startsWith('en-')) return 'en';
    // zh, zh-CN, zh-Hans, zh-SG: simplified Chinese (no traditional table yet: zh-TW/zh-HK fall through)
    if (l === 'zh' || l === 'zh-cn' || l === 'zh-sg' || l.startsWith('zh-hans')) return 'zh-CN';
  }
  return 'en';
}

let lang = 'en';

export function setLang(l) {
  lang = STRINGS[l] ? l : 'en';
  document.documentElement.lang = lang;
}

export function getLang() {
  return lang;
}

export function has(key) {
  return key in STRINGS.en;
}

export function t(key, vars = {}) {
  const s = (STRINGS[lang] && STRINGS[lang][key]) ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** Fill every element with `data-i18n="key"` (text) under root. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  document.title = t('title');
}
