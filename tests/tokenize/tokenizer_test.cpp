#include "tokenize/sentencepiece_trainer.h"
#include "tokenize/tokenizer.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmzip {
namespace {

namespace fs = std::filesystem;

// English-like text from a fixed word list: sentences with capitals,
// commas, numbers and line breaks, enough for a tiny model to learn words.
std::string english_like_text(std::size_t bytes, std::uint32_t seed) {
  static const char* const kWords[] = {
      "the",     "of",     "and",    "to",      "in",      "a",        "is",      "that",   "for",
      "it",      "as",     "was",    "with",    "be",      "by",       "on",      "not",    "he",
      "this",    "are",    "or",     "his",     "from",    "at",       "which",   "but",    "have",
      "an",      "had",    "they",   "you",     "were",    "their",    "one",     "all",    "we",
      "can",     "her",    "has",    "there",   "been",    "if",       "more",    "when",   "will",
      "would",   "who",    "so",     "no",      "time",    "people",   "little",  "house",  "water",
      "country", "letter", "morning", "between", "through", "question", "children", "under", "river",
      "however", "nothing", "thought", "together", "whether", "against", "remember", "garden",
      "another", "whole",  "without", "evening", "brother", "mother",   "father",  "great",  "small"};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> word(0, std::size(kWords) - 1);
  std::uniform_int_distribution<int> percent(0, 99);
  std::string text;
  std::size_t line_start = 0;
  bool sentence_start = true;
  while (text.size() < bytes) {
    std::string w = kWords[word(rng)];
    if (sentence_start) w[0] = static_cast<char>(w[0] - 'a' + 'A');
    if (percent(rng) < 3) w = std::to_string(rng() % 2000);
    text += w;
    sentence_start = false;
    const int p = percent(rng);
    if (p < 8) {
      text += '.';
      sentence_start = true;
    } else if (p < 14) {
      text += ',';
    }
    if (text.size() - line_start > 70) {
      text += '\n';
      line_start = text.size();
    } else {
      text += ' ';
    }
  }
  return text;
}

std::vector<std::uint8_t> as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

class SentencePieceTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("lmzip_tokenize_test_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const fs::path a = *dir_ / "a.txt";
    const fs::path b = *dir_ / "b.txt";
    std::ofstream(a, std::ios::binary) << english_like_text(40000, 1);
    std::ofstream(b, std::ios::binary) << english_like_text(20000, 2);
    files_ = new std::vector<std::string>{a.string(), b.string()};
    vocab_ = new SentencePieceVocab(train_sentencepiece(*files_, kVocab, 0, 7));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete files_;
    delete vocab_;
  }

  void SetUp() override { tok_ = Tokenizer::from_pieces(vocab_->pieces, vocab_->scores); }

  // Encodes, checks every id is in range and that both this tokenizer and a
  // fresh one from the same table decode the ids back to the input, and that
  // the fresh one encodes the same way; returns the ids.
  std::vector<std::uint32_t> round_trip(const std::string& input) {
    std::vector<std::uint32_t> ids;
    tok_->encode(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), ids);
    for (const std::uint32_t id : ids) EXPECT_LT(id, tok_->vocab_size());
    std::string decoded;
    tok_->decode(ids.data(), ids.size(), decoded);
    EXPECT_EQ(decoded, input);
    const auto table = Tokenizer::from_pieces(tok_->pieces(), vocab_->scores);
    std::string from_table;
    table->decode(ids.data(), ids.size(), from_table);
    EXPECT_EQ(from_table, input);
    std::vector<std::uint32_t> again;
    table->encode(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), again);
    EXPECT_EQ(again, ids);
    return ids;
  }

  static constexpr std::uint32_t kVocab = 400;
  static fs::path* dir_;
  static std::vector<std::string>* files_;
  static SentencePieceVocab* vocab_;
  std::unique_ptr<Tokenizer> tok_;
};

fs::path* SentencePieceTokenizerTest::dir_ = nullptr;
std::vector<std::string>* SentencePieceTokenizerTest::files_ = nullptr;
SentencePieceVocab* SentencePieceTokenizerTest::vocab_ = nullptr;

TEST_F(SentencePieceTokenizerTest, PiecesAreBytes) {
  const auto& pieces = tok_->pieces();
  ASSERT_EQ(pieces.size(), kVocab);
  ASSERT_EQ(vocab_->scores.size(), kVocab);
  EXPECT_FALSE(vocab_->model_proto.empty());
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(pieces[tok_->byte_id(static_cast<std::uint8_t>(b))], std::string(1, static_cast<char>(b)));
  }
  bool has_word_with_space = false;
  for (const std::string& p : pieces) {
    EXPECT_EQ(p.find("\xE2\x96\x81"), std::string::npos) << "space mark left in piece";
    EXPECT_EQ(p.find("<0x"), std::string::npos) << p;
    if (p.size() > 2 && p[0] == ' ') has_word_with_space = true;
  }
  EXPECT_TRUE(has_word_with_space);
  // <unk>, <s>, </s> stand for no bytes.
  EXPECT_EQ(pieces[0], "");
  EXPECT_EQ(pieces[1], "");
  EXPECT_EQ(pieces[2], "");
}

TEST_F(SentencePieceTokenizerTest, EmptyInput) {
  std::vector<std::uint32_t> ids{5};
  tok_->encode(nullptr, 0, ids);
  EXPECT_TRUE(ids.empty());  // encode replaces the contents
  EXPECT_TRUE(round_trip("").empty());
}

TEST_F(SentencePieceTokenizerTest, EnglishIsCompressed) {
  const std::string text = english_like_text(20000, 99);  // not the training text
  const auto ids = round_trip(text);
  const double tokens_per_byte = static_cast<double>(ids.size()) / text.size();
  EXPECT_LT(tokens_per_byte, 0.5);
}

TEST_F(SentencePieceTokenizerTest, NewlineIsOneToken) {
  const auto ids = round_trip("\n");
  ASSERT_EQ(ids.size(), 1u);
  const auto text_ids = round_trip("the house\nthe house\n\n");
  EXPECT_EQ(std::count(text_ids.begin(), text_ids.end(), ids[0]), 3);
}

TEST_F(SentencePieceTokenizerTest, InvalidUtf8) {
  const std::vector<std::string> cases = {
      "\x80",                            // stray continuation
      "the \xC0\xAF house",              // overlong '/'
      "\xE0\x80\x80",                    // overlong NUL
      "water \xED\xA0\x80 river",        // surrogate
      "\xF4\x90\x80\x80",                // above U+10FFFF
      "\xF5\xFF\xFE",                    // never valid
      "the house \xE2\x96",              // cut short at the end
      "\xE2\x96 the",                    // cut short before text
      "mother\xC3",                      // cut short two-byte
      "a\xF0\x9F\x98",                   // cut short four-byte
      "\xC3\xA9t\xC3\xA9 \xFF\xFE caf\xC3\xA9",
  };
  for (const std::string& s : cases) {
    SCOPED_TRACE(testing::PrintToString(s));
    round_trip(s);
  }
  // Invalid bytes are coded as byte ids, the text around them as pieces.
  const auto ids = round_trip("the house\xFF the house");
  EXPECT_NE(std::find(ids.begin(), ids.end(), tok_->byte_id(0xFF)), ids.end());
  EXPECT_EQ(ids.size(), round_trip("the house").size() + 1 + round_trip(" the house").size());
}

TEST_F(SentencePieceTokenizerTest, NulCrlfTabsAndSpaces) {
  round_trip(std::string("the\0house\0\0", 12));
  round_trip(std::string(1000, '\0'));
  round_trip("the house\r\nthe river\r\n\r\n");
  round_trip("\r\r\r\n\n\r");
  round_trip(std::string(1000, ' '));
  round_trip(" " + std::string(1000, ' ') + "the" + std::string(999, ' '));
  round_trip("\tthe\t\thouse\t \t");
  round_trip(std::string(500, '\t') + "\n" + std::string(500, ' ') + "\n");
}

TEST_F(SentencePieceTokenizerTest, LiteralSpaceMark) {
  const std::string mark = "\xE2\x96\x81";
  const auto ids = round_trip(mark);
  const std::vector<std::uint32_t> expected = {tok_->byte_id(0xE2), tok_->byte_id(0x96), tok_->byte_id(0x81)};
  EXPECT_EQ(ids, expected);
  round_trip(mark + mark + " " + mark + "the" + mark + " house " + mark);
  round_trip(" " + mark + "\n" + mark + mark + mark + "\n");
}

TEST_F(SentencePieceTokenizerTest, AllByteValues) {
  std::string up, down;
  for (int b = 0; b < 256; ++b) {
    up += static_cast<char>(b);
    down += static_cast<char>(255 - b);
  }
  round_trip(up);
  round_trip(down);
  round_trip(up + down + up);
  for (int b = 0; b < 256; ++b) {
    round_trip(std::string(1, static_cast<char>(b)));
    round_trip("the " + std::string(3, static_cast<char>(b)) + " house");
  }
}

TEST_F(SentencePieceTokenizerTest, ValidUnicode) {
  round_trip("caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 \xEF\xBB\xBF");
  // Characters that Unicode normalization would change must come back as
  // they were: NFKC would fold the ligature, full-width letter and
  // decomposed accent.
  round_trip("\xEF\xAC\x81 \xEF\xBC\xA1 e\xCC\x81 \xE2\x84\xAB \xC2\xA0\xE3\x80\x80");
  // Every code point in a few ranges, including the largest.
  std::string all;
  for (std::uint32_t cp : {0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    if (cp < 0x800) {
      all += static_cast<char>(0xC0 | (cp >> 6));
      all += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      all += static_cast<char>(0xE0 | (cp >> 12));
      all += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      all += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      all += static_cast<char>(0xF0 | (cp >> 18));
      all += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      all += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      all += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  round_trip(all);
}

TEST_F(SentencePieceTokenizerTest, RandomBytes) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t size = rng() % 3000;
    std::string s(size, '\0');
    // Half the trials draw from a small alphabet of text, spaces, newlines,
    // the space mark's bytes and high bytes, so that valid runs and pieces
    // meet invalid bytes often.
    static const char kMix[] = "the house \n\r\t\xE2\x96\x81\xC3\xA9\xFF";
    for (char& c : s) {
      c = trial % 2 ? static_cast<char>(rng()) : kMix[rng() % (sizeof(kMix) - 1)];
    }
    SCOPED_TRACE(trial);
    round_trip(s);
  }
}

TEST_F(SentencePieceTokenizerTest, LongLine) {
  std::string text = english_like_text(400000, 5);
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  const auto ids = round_trip(text);
  EXPECT_LT(static_cast<double>(ids.size()) / text.size(), 0.5);
  // Long lines go to SentencePiece in parts: lines with no space to cut
  // before are cut between characters.
  round_trip(std::string(200000, ' ') + "the house" + std::string(100000, ' '));
  round_trip(std::string(200000, 'x'));
  std::string cjk;
  while (cjk.size() < 200000) cjk += "\xE6\x97\xA5\xF0\x9F\x98\x80";  // 3- and 4-byte characters
  round_trip(cjk);
}

TEST_F(SentencePieceTokenizerTest, DecodeRejectsUnknownId) {
  const std::uint32_t bad = static_cast<std::uint32_t>(tok_->vocab_size());
  std::string out;
  EXPECT_THROW(tok_->decode(&bad, 1, out), std::out_of_range);
  const auto table = Tokenizer::from_pieces(tok_->pieces(), vocab_->scores);
  EXPECT_THROW(table->decode(&bad, 1, out), std::out_of_range);
}

TEST_F(SentencePieceTokenizerTest, TrainingIsDeterministic) {
  const SentencePieceVocab again = train_sentencepiece(*files_, kVocab, 0, 7);
  EXPECT_EQ(again.pieces, vocab_->pieces);
  EXPECT_EQ(again.scores, vocab_->scores);
}

TEST_F(SentencePieceTokenizerTest, ByteFallbackCostsMoreThanText) {
  // The 256 byte-fallback pieces share the lowest score, below every text
  // piece, so they are used only for what text pieces cannot cover.
  std::int32_t lowest = 0;
  for (std::size_t id = 0; id < tok_->vocab_size(); ++id) {
    if (!tok_->piece(id).empty()) lowest = std::min(lowest, vocab_->scores[id]);
  }
  bool byte_seen[256] = {};
  int fallback_pieces = 0;
  for (std::size_t id = 0; id < tok_->vocab_size(); ++id) {
    if (tok_->piece(id).empty() || vocab_->scores[id] != lowest) continue;
    ASSERT_EQ(tok_->piece(id).size(), 1u);
    byte_seen[static_cast<std::uint8_t>(tok_->piece(id)[0])] = true;
    ++fallback_pieces;
  }
  EXPECT_EQ(fallback_pieces, 256);
  EXPECT_EQ(std::count(std::begin(byte_seen), std::end(byte_seen), true), 256);
  const auto ids = round_trip("The house of the mother, the river and the garden.");
  for (const std::uint32_t id : ids) EXPECT_NE(vocab_->scores[id], lowest) << tok_->piece(id);
  // A byte no text piece covers is coded by its fallback piece.
  const auto high = round_trip("\xFF");
  ASSERT_EQ(high.size(), 1u);
  EXPECT_EQ(vocab_->scores[high[0]], lowest);
}

TEST(SentencePieceTrainerTest, MissingFileThrows) {
  EXPECT_THROW(train_sentencepiece({"/nonexistent/lmzip/file.txt"}, 400, 1000, 1), std::runtime_error);
  EXPECT_THROW(train_sentencepiece({}, 400, 1000, 1), std::runtime_error);
}

TEST(ByteTokenizerTest, IdIsByte) {
  const auto tok = Tokenizer::bytes();
  EXPECT_TRUE(tok->is_bytes());
  ASSERT_EQ(tok->vocab_size(), 256u);
  std::vector<std::uint8_t> data(256 * 3);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  std::vector<std::uint32_t> ids;
  tok->encode(data.data(), data.size(), ids);
  ASSERT_EQ(ids.size(), data.size());
  for (std::size_t i = 0; i < data.size(); ++i) EXPECT_EQ(ids[i], data[i]);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(tok->byte_id(static_cast<std::uint8_t>(b)), static_cast<std::uint32_t>(b));
    EXPECT_EQ(tok->piece(b), std::string(1, static_cast<char>(b)));
  }
  std::string out;
  tok->decode(ids.data(), ids.size(), out);
  EXPECT_EQ(out, std::string(data.begin(), data.end()));
  const std::uint32_t bad = 256;
  EXPECT_THROW(tok->decode(&bad, 1, out), std::out_of_range);
}

TEST(ByteTokenizerTest, TableOfBytesIsTheByteTokenizer) {
  const auto table = Tokenizer::from_pieces(Tokenizer::bytes()->pieces(), std::vector<std::int32_t>(256, 0));
  EXPECT_TRUE(table->is_bytes());
  const auto data = as_bytes(std::string("a\0\xFF", 3));
  std::vector<std::uint32_t> ids;
  table->encode(data.data(), data.size(), ids);
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{'a', 0, 0xFF}));
}

std::vector<std::string> byte_pieces() {
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  return pieces;
}

TEST(FromPiecesTest, BadTablesThrow) {
  auto pieces = byte_pieces();
  EXPECT_THROW(Tokenizer::from_pieces(pieces, std::vector<std::int32_t>(255, 0)), std::runtime_error);
  pieces[200] = "xy";
  EXPECT_THROW(Tokenizer::from_pieces(pieces, std::vector<std::int32_t>(256, 0)), std::runtime_error);
}

TEST(FromPiecesTest, EncodeFindsTheBestScore) {
  auto pieces = byte_pieces();
  std::vector<std::int32_t> scores(256, -100);
  const auto add = [&](const std::string& p, std::int32_t score) {
    pieces.push_back(p);
    scores.push_back(score);
    return static_cast<std::uint32_t>(pieces.size() - 1);
  };
  const std::uint32_t ab = add("ab", -10);
  const std::uint32_t bc = add("bc", -10);
  const std::uint32_t abc = add("abc", -30);
  add("cab", -250);
  const std::uint32_t empty = add("", 1000);  // an empty piece is never used
  const auto tok = Tokenizer::from_pieces(pieces, scores);
  EXPECT_FALSE(tok->is_bytes());
  auto encode = [&](const std::string& s) {
    std::vector<std::uint32_t> ids;
    tok->encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), ids);
    std::string back;
    tok->decode(ids.data(), ids.size(), back);
    EXPECT_EQ(back, s);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), empty), 0);
    return ids;
  };
  EXPECT_EQ(encode("abc"), (std::vector<std::uint32_t>{abc}));               // -30 beats -110
  EXPECT_EQ(encode("abcab"), (std::vector<std::uint32_t>{abc, ab}));         // -40 beats abc+a+b, a+b+cab
  EXPECT_EQ(encode("bcb"), (std::vector<std::uint32_t>{bc, 'b'}));           // -110
  EXPECT_EQ(encode("xcab"), (std::vector<std::uint32_t>{'x', 'c', ab}));     // -210 beats x+cab (-350)
}

TEST(FromPiecesTest, ByteIdIsTheBestScoredSingleBytePiece) {
  auto pieces = byte_pieces();
  std::vector<std::int32_t> scores(256, -100);
  pieces.push_back("\n");
  scores.push_back(-5);
  const auto tok = Tokenizer::from_pieces(pieces, scores);
  EXPECT_EQ(tok->byte_id('\n'), 256u);
  EXPECT_EQ(tok->byte_id('a'), static_cast<std::uint32_t>('a'));
}

}  // namespace
}  // namespace lmzip
