// The page's two languages. Static text carries data-i18n="key"; code that renders text asks t(key)
// and re-renders on the "languagechange" event. The choice is remembered in localStorage.

const TEXT = {
  en: {
    title: "dlserve playground",
    apiKey: "API key",
    apiDocs: "API docs (Swagger UI)",
    intro: "Four models from the course, served by this machine. Draw, upload, fill in or write: every answer comes from the same API the docs describe.",
    digitTab: "Digits", fashionTab: "Clothing", houseTab: "House prices", poemTab: "Tang poems",
    digitTitle: "Handwritten digit",
    digitHint: "Draw one digit with the mouse, a pen or a finger; the network guesses after each stroke. Keyboard: focus the canvas, move with the arrow keys (Shift lifts the pen), Enter to predict, Escape to clear.",
    clear: "Clear", predict: "Predict", guess: "Guess",
    modelSaw: "What the model saw (28×28, after MNIST-style normalization)",
    modelSawFashion: "What the model saw (28×28, after Fashion-MNIST-style normalization)",
    saliency: "Show what drove the guess (saliency)",
    fashionTitle: "Clothing (Fashion-MNIST)",
    fashionHint: "Choose a photo of one garment, drop it here, or paste it (Ctrl+V).",
    choosePhoto: "Choose, drop or paste a photo",
    houseTitle: "House price (Ames, Iowa)",
    houseHint: "The fields that move the price most, filled with typical values from the training data. Leave a field empty to let the model fill it as in training.",
    allFields: "All fields", estimate: "Estimate the price", price: "Price",
    poemTitle: "Tang poem", model: "Model",
    poemHint: "Give the first characters, an acrostic (one head character per line) or a theme; the poem streams in character by character. Keep the seed to get the same poem again.",
    start: "Start characters", acrostic: "Acrostic (藏头)", theme: "Theme", themeAs: "Use the theme as",
    asStart: "start", asAcrostic: "acrostic heads", form: "Form",
    form4x5: "五言绝句 (4 lines × 5)", form4x7: "七言绝句 (4 lines × 7)", form8x5: "五言律诗 (8 lines × 5)", form8x7: "七言律诗 (8 lines × 7)",
    rhyme: "Rhyme", pingshui: "平水韵 (Tang rhymes)", xinyun: "中华新韵 (modern rhymes)", noRhyme: "none",
    tones: "Tones (平仄)", tonesNone: "none", tonesLoose: "loose (一三五不论)", tonesStrict: "strict",
    temperature: "Temperature", seed: "Seed (empty = random)", write: "Write a poem",
    footer: "Models trained by the scripts in training/; their quality is at",
    working: "working…", networkError: "the service could not be reached",
    seedUsed: "seed", rhymeGroup: "rhyme group", version: "model",
    noRhymeGroup: "no rhyme rule",
    houseFieldRange: "range",
  },
  zh: {
    title: "dlserve 体验页",
    apiKey: "API 密钥",
    apiDocs: "API 文档 (Swagger UI)",
    intro: "课程里的四个模型，由这台机器提供服务。画一画、传张图、填个表或写首诗：每个回答都来自文档里的同一套 API。",
    digitTab: "手写数字", fashionTab: "服饰", houseTab: "房价", poemTab: "唐诗",
    digitTitle: "手写数字识别",
    digitHint: "用鼠标、触控笔或手指写一个数字，每写完一笔网络就猜一次。键盘：选中画布后用方向键移动（按住 Shift 抬笔），Enter 识别，Esc 清空。",
    clear: "清空", predict: "识别", guess: "识别结果",
    modelSaw: "模型看到的图像（28×28，按 MNIST 的方式归一化后）",
    modelSawFashion: "模型看到的图像（28×28，按 Fashion-MNIST 的方式归一化后）",
    saliency: "显示影响判断的区域（显著图）",
    fashionTitle: "服饰分类 (Fashion-MNIST)",
    fashionHint: "选择一张单件服饰的照片，拖到这里，或直接粘贴（Ctrl+V）。",
    choosePhoto: "选择、拖入或粘贴照片",
    houseTitle: "房价预测（美国艾姆斯）",
    houseHint: "这些是对房价影响最大的字段，已按训练数据的典型值填好。留空的字段由模型按训练时的方式补全。",
    allFields: "全部字段", estimate: "估算房价", price: "房价",
    poemTitle: "唐诗生成", model: "模型",
    poemHint: "给出开头的字、藏头字（每句一个）或一个主题；诗会一个字一个字地流式出现。记下种子就能再得到同一首诗。",
    start: "开头的字", acrostic: "藏头诗", theme: "主题", themeAs: "主题用作",
    asStart: "开头", asAcrostic: "藏头字", form: "体裁",
    form4x5: "五言绝句（4 句 × 5 字）", form4x7: "七言绝句（4 句 × 7 字）", form8x5: "五言律诗（8 句 × 5 字）", form8x7: "七言律诗（8 句 × 7 字）",
    rhyme: "韵", pingshui: "平水韵（唐诗用韵）", xinyun: "中华新韵（现代普通话）", noRhyme: "不押韵",
    tones: "平仄", tonesNone: "不限", tonesLoose: "宽（一三五不论）", tonesStrict: "严格",
    temperature: "温度", seed: "随机种子（留空 = 随机）", write: "写一首诗",
    footer: "模型由 training/ 中的脚本训练；质量指标见",
    working: "计算中…", networkError: "无法连接到服务",
    seedUsed: "种子", rhymeGroup: "韵部", version: "模型",
    noRhymeGroup: "不押韵",
    houseFieldRange: "范围",
  },
};

const STORAGE_KEY = "dlserve.language";
let language = localStorage.getItem(STORAGE_KEY) || (navigator.language.startsWith("zh") ? "zh" : "en");

export function currentLanguage() {
  return language;
}

export function t(key) {
  return TEXT[language][key] ?? TEXT.en[key] ?? key;
}

function apply() {
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  // The button names the other language: it is what pressing it gives.
  document.getElementById("language").textContent = language === "zh" ? "English" : "中文";
  document.dispatchEvent(new CustomEvent("languagechange"));
}

export function setUpLanguage() {
  document.getElementById("language").addEventListener("click", () => {
    language = language === "zh" ? "en" : "zh";
    localStorage.setItem(STORAGE_KEY, language);
    apply();
  });
  apply();
}
