"""Writing face names into XMP: what is written reads back, what others wrote stays byte for
byte, a second write with the same faces changes nothing, and documents that cannot be read
with certainty are refused rather than overwritten."""

from __future__ import annotations

import difflib
import xml.etree.ElementTree as ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faceorganizer.xmp import MAX_BYTES, parse
from faceorganizer.xmp_write import DIGIKAM, LIGHTROOM, OURS, NamedRegion, XmpWriteError, render

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# As exiftool writes a sidecar: one rdf:Description per namespace, elements, single quotes.
# Microsoft regions, a keyword list without Lightroom's, a face (Ann Smith, box 0.26 0.3 0.36 0.5)
# and a pet, and a rating.
EXIFTOOL = """<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/' x:xmptk='Image::ExifTool 12.76'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>

 <rdf:Description rdf:about=''
  xmlns:MP='http://ns.microsoft.com/photo/1.2/'
  xmlns:MPRI='http://ns.microsoft.com/photo/1.2/t/RegionInfo#'
  xmlns:MPReg='http://ns.microsoft.com/photo/1.2/t/Region#'>
  <MP:RegionInfo rdf:parseType='Resource'>
   <MPRI:Regions>
    <rdf:Bag>
     <rdf:li rdf:parseType='Resource'>
      <MPReg:PersonDisplayName>Ann Smith</MPReg:PersonDisplayName>
      <MPReg:Rectangle>0.26, 0.3, 0.1, 0.2</MPReg:Rectangle>
     </rdf:li>
    </rdf:Bag>
   </MPRI:Regions>
  </MP:RegionInfo>
 </rdf:Description>

 <rdf:Description rdf:about=''
  xmlns:digiKam='http://www.digikam.org/ns/1.0/'>
  <digiKam:TagsList>
   <rdf:Seq>
    <rdf:li>Places/Paris</rdf:li>
    <rdf:li>People/Carol</rdf:li>
   </rdf:Seq>
  </digiKam:TagsList>
 </rdf:Description>

 <rdf:Description rdf:about=''
  xmlns:mwg-rs='http://www.metadataworkinggroup.com/schemas/regions/'
  xmlns:stArea='http://ns.adobe.com/xmp/sType/Area#'
  xmlns:stDim='http://ns.adobe.com/xap/1.0/sType/Dimensions#'>
  <mwg-rs:Regions rdf:parseType='Resource'>
   <mwg-rs:AppliedToDimensions rdf:parseType='Resource'>
    <stDim:h>3000</stDim:h>
    <stDim:unit>pixel</stDim:unit>
    <stDim:w>4000</stDim:w>
   </mwg-rs:AppliedToDimensions>
   <mwg-rs:RegionList>
    <rdf:Bag>
     <rdf:li rdf:parseType='Resource'>
      <mwg-rs:Area rdf:parseType='Resource'>
       <stArea:h>0.2</stArea:h>
       <stArea:unit>normalized</stArea:unit>
       <stArea:w>0.1</stArea:w>
       <stArea:x>0.31</stArea:x>
       <stArea:y>0.4</stArea:y>
      </mwg-rs:Area>
      <mwg-rs:Name>Ann Smith</mwg-rs:Name>
      <mwg-rs:Type>Face</mwg-rs:Type>
     </rdf:li>
     <rdf:li rdf:parseType='Resource'>
      <mwg-rs:Area rdf:parseType='Resource'>
       <stArea:h>0.2</stArea:h>
       <stArea:unit>normalized</stArea:unit>
       <stArea:w>0.2</stArea:w>
       <stArea:x>0.7</stArea:x>
       <stArea:y>0.7</stArea:y>
      </mwg-rs:Area>
      <mwg-rs:Name>Rex</mwg-rs:Name>
      <mwg-rs:Type>Pet</mwg-rs:Type>
     </rdf:li>
    </rdf:Bag>
   </mwg-rs:RegionList>
  </mwg-rs:Regions>
 </rdf:Description>

 <rdf:Description rdf:about=''
  xmlns:xmp='http://ns.adobe.com/xap/1.0/'>
  <xmp:Rating>4</xmp:Rating>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>
""".encode()
ANN = (0.26, 0.3, 0.36, 0.5)
REX = (0.6, 0.6, 0.8, 0.8)

# As exiv2 writes for digiKam: one rdf:Description, simple values and fields as attributes, a
# comment. A face (Carol, box 0.4 0.2 0.6 0.3), a focus region and Carol's keywords.
DIGIKAM_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmp:Rating="3"
   xmp:CreatorTool="digiKam-8.2.0">
   <!-- a comment someone left -->
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>People/Carol</rdf:li>
     <rdf:li>Holiday</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions
     stDim:w="640"
     stDim:h="480"
     stDim:unit="pixel"/>
    <mwg-rs:RegionList>
     <rdf:Bag>
      <rdf:li>
       <rdf:Description
        mwg-rs:Name="Carol"
        mwg-rs:Type="Face">
       <mwg-rs:Area
        stArea:x="0.5"
        stArea:y="0.25"
        stArea:w="0.2"
        stArea:h="0.1"
        stArea:unit="normalized"/>
       </rdf:Description>
      </rdf:li>
      <rdf:li>
       <rdf:Description
        mwg-rs:Type="Focus">
       <mwg-rs:Area stArea:x="0.45" stArea:y="0.2" stArea:w="0.1" stArea:h="0.1" stArea:unit="normalized"/>
       </rdf:Description>
      </rdf:li>
     </rdf:Bag>
    </mwg-rs:RegionList>
   </mwg-rs:Regions>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>People|Carol</rdf:li>
     <rdf:li>Holiday</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Carol</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
""".encode()
CAROL = (0.4, 0.2, 0.6, 0.3)

# On one line, an rdf:about that is not empty (all descriptions must share it), nothing else.
INLINE = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
          b'<rdf:Description rdf:about="uuid:faf5bdd5-ba3d-11da-ad31-d33d75182f1b" '
          b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="5"/></rdf:RDF></x:xmpmeta>')

SAMPLES = {"new": None, "exiftool": EXIFTOOL, "digikam": DIGIKAM_SIDECAR, "inline": INLINE}
DIMENSIONS = {"new": (4000, 3000), "exiftool": (4000, 3000), "digikam": (640, 480), "inline": (800, 600)}

ALICE = NamedRegion((0.05, 0.6, 0.15, 0.75), "Alice")
BOB = NamedRegion((0.8, 0.05, 0.9, 0.2), "Bob")


def keywords(document: bytes, namespace: str, local: str) -> list[str]:
    """The entries of an array property, wherever it is."""
    root = ElementTree.fromstring(document)
    return [li.text or "" for prop in root.iter(f"{{{namespace}}}{local}")
            for li in prop.iter(f"{{{RDF}}}li")]


def tags(document: bytes) -> list[str]:
    return keywords(document, DIGIKAM, "TagsList")


def subjects(document: bytes) -> list[str]:
    return keywords(document, LIGHTROOM, "hierarchicalSubject")


def changes(before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """The lines ``after`` lost from ``before``, and those it gained."""
    old, new = before.decode().splitlines(keepends=True), after.decode().splitlines(keepends=True)
    removed: list[str] = []
    added: list[str] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op != "equal":
            removed += old[a1:a2]
            added += new[b1:b2]
    return removed, added


def named(document: bytes) -> list[tuple[str | None, tuple[float, float, float, float]]]:
    return [(r.name, r.box) for r in parse(document).regions]


# A new sidecar ---------------------------------------------------------------------------------

def test_a_new_sidecar_reads_back_as_the_regions_and_keywords_written() -> None:
    written = render(None, [BOB, ALICE], (4000, 3000))
    assert written.startswith(b"<?xpacket begin=") and b'rdf:about=""' in written
    found = parse(written)
    assert found.warnings == [] and found.dimensions == (4000, 3000)
    assert [(r.name, r.source) for r in found.regions] == [("Bob", "mwg"), ("Alice", "mwg")]
    for region, expected in zip(found.regions, (BOB, ALICE), strict=True):
        assert region.box == pytest.approx(expected.box, abs=1e-6)
    assert tags(written) == ["People/Alice", "People/Bob"]  # sorted, whatever the regions' order
    assert subjects(written) == ["People|Alice", "People|Bob"]
    assert written.count(b'stArea:x="0.850000"') == 1  # the centre, six decimals


def test_numbers_are_written_plainly_and_in_range() -> None:
    tiny = NamedRegion((1e-9, 0.0, 0.00002, 1.0), "Tiny")
    written = render(None, [tiny], (10, 10))
    assert b"e-" not in written and b"E-" not in written
    assert b'stArea:x="0.000010"' in written and b'stArea:h="1.000000"' in written
    with pytest.raises(ValueError):
        render(None, [NamedRegion((0.5, 0.5, 0.5, 0.9), "Empty")], (10, 10))
    with pytest.raises(ValueError):
        render(None, [NamedRegion((float("nan"), 0.1, 0.2, 0.3), "NaN")], (10, 10))
    with pytest.raises(ValueError):
        render(None, [ALICE], (0, 10))


def test_no_regions_make_an_empty_document() -> None:
    written = render(None, [], (10, 10))
    assert parse(written).regions == [] and parse(written).warnings == []
    assert b"faceorganizer" not in written and b"People" not in written


@pytest.mark.parametrize("name", ["Zoë", "李雷", 'Tom & "Jerry" <the cat>', "O'Brien", "Ann\tMarie  Smith ",
                                  "Émile 👍"])
def test_names_with_special_characters_read_back(name: str) -> None:
    expected = " ".join(name.split())
    written = render(None, [NamedRegion(ALICE.box, name)], (100, 100))
    assert [r.name for r in parse(written).regions] == [expected]
    assert tags(written) == [f"People/{expected}"] and subjects(written) == [f"People|{expected}"]
    assert render(written, [NamedRegion(ALICE.box, name)], (100, 100)) == written


def test_a_document_that_would_outgrow_what_is_read_is_refused() -> None:
    padded = INLINE.replace(b"</x:xmpmeta>", b"</x:xmpmeta>" + b" " * (MAX_BYTES - len(INLINE) - 100))
    assert render(padded, [], (10, 10)) == padded
    with pytest.raises(XmpWriteError, match="grow past"):
        render(padded, [ALICE], (10, 10))


def test_a_blank_name_is_a_face_without_a_name_or_keyword() -> None:
    written = render(None, [NamedRegion(ALICE.box, " \t"), BOB], (10, 10))
    assert [n for n, _ in named(written)] == [None, "Bob"]
    assert tags(written) == ["People/Bob"] and b'Name=""' not in written


def test_a_name_given_twice_is_one_keyword() -> None:
    written = render(None, [NamedRegion(ALICE.box, "Alice"), NamedRegion(BOB.box, "Alice")], (10, 10))
    assert [r.name for r in parse(written).regions] == ["Alice", "Alice"]
    assert tags(written) == ["People/Alice"]


# Other apps' documents -------------------------------------------------------------------------

@pytest.mark.parametrize("sample", ["exiftool", "digikam", "inline"])
def test_writing_only_adds_to_what_others_wrote_and_no_regions_takes_it_away(sample: str) -> None:
    """Faces that overlap nothing, dimensions as the document has them: every byte of the
    document is still there, only lines of this app's are added; writing no regions gives the
    very bytes back."""
    original = SAMPLES[sample]
    assert original is not None
    written = render(original, [ALICE, BOB], DIMENSIONS[sample])
    if sample == "inline":  # one line: everything before the end of the last description stays
        head = original.split(b"</rdf:RDF>")[0]
        assert written.startswith(head) and written.endswith(b"</rdf:RDF></x:xmpmeta>")
    else:
        removed, added = changes(original, written)
        assert removed == []
        assert all("faceorganizer" in line or "People" in line or "rdf:" in line or "lr:" in line
                   or "digiKam:" in line or "mwg-rs:" in line for line in added)
    assert render(written, [], DIMENSIONS[sample]) == original


def test_exiftool_sidecar_keeps_everything_of_others() -> None:
    written = render(EXIFTOOL, [NamedRegion(ANN, "Ann"), NamedRegion(REX, "Bob")], (4000, 3000))
    names = named(written)
    # Ann Smith's face is the face being named Ann (the same box): replaced; Rex is a pet, kept
    # even where a face is written over it.
    assert [n for n, _ in names] == ["Ann", "Bob"]
    assert b"<mwg-rs:Name>Rex</mwg-rs:Name>" in written and b"Ann Smith</mwg-rs:Name>" not in written
    # Microsoft's regions, the rating, the other keywords: the same bytes.
    first, closing = EXIFTOOL.index(b" <rdf:Description"), b" </rdf:Description>\n"
    microsoft = EXIFTOOL[first:EXIFTOOL.index(closing) + len(closing)]
    assert b"MPReg:PersonDisplayName" in microsoft
    for kept in (microsoft,
                 b" <rdf:Description rdf:about=''\n  xmlns:xmp='http://ns.adobe.com/xap/1.0/'>\n"
                 b"  <xmp:Rating>4</xmp:Rating>\n </rdf:Description>\n",
                 b"    <rdf:li>Places/Paris</rdf:li>\n    <rdf:li>People/Carol</rdf:li>\n"):
        assert kept in written
    assert written.startswith(EXIFTOOL[:EXIFTOOL.index(b"\n   </rdf:Seq>")])
    regions, bag = b" <rdf:Description rdf:about=''\n  xmlns:mwg-rs", b"<mwg-rs:RegionList>\n    <rdf:Bag>"
    assert EXIFTOOL[EXIFTOOL.index(regions):EXIFTOOL.index(bag) + len(bag)] in written
    assert written.endswith(b" </rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end='w'?>\n")
    assert tags(written) == ["Places/Paris", "People/Carol", "People/Ann", "People/Bob"]
    assert subjects(written) == ["People|Ann", "People|Bob"]  # a new list: there was none
    assert render(written, [NamedRegion(ANN, "Ann"), NamedRegion(REX, "Bob")], (4000, 3000)) == written


def test_digikam_sidecar_overlapping_face_is_replaced_and_the_rest_kept() -> None:
    near_carol = (0.45, 0.2, 0.65, 0.3)  # IoU 0.6 with Carol's box
    written = render(DIGIKAM_SIDECAR, [NamedRegion(near_carol, "Dave")], (640, 480))
    assert [n for n, _ in named(written)] == ["Dave"]  # the focus region is no face
    assert b'mwg-rs:Type="Focus"' in written and b'mwg-rs:Name="Carol"' not in written
    # Carol's keywords are not this app's: they stay, though her region went.
    assert tags(written) == ["People/Carol", "Holiday", "People/Dave"]
    assert subjects(written) == ["People|Carol", "Holiday", "People|Dave"]
    for kept in (b"   <!-- a comment someone left -->\n",
                 b'   xmp:Rating="3"\n   xmp:CreatorTool="digiKam-8.2.0">\n',
                 b"   <dc:subject>\n    <rdf:Bag>\n     <rdf:li>Carol</rdf:li>\n    </rdf:Bag>\n"
                 b"   </dc:subject>\n"):
        assert kept in written
    # The only description added holds the list of keywords this app added.
    assert written.count(b"<rdf:Description rdf:about=") == 2


def test_a_face_barely_overlapping_is_another_face() -> None:
    apart = (0.55, 0.2, 0.75, 0.3)  # IoU 0.14 with Carol's box
    written = render(DIGIKAM_SIDECAR, [NamedRegion(apart, "Dave")], (640, 480))
    assert [n for n, _ in named(written)] == ["Carol", "Dave"]


def test_a_name_already_a_keyword_is_not_written_twice_nor_taken_away() -> None:
    written = render(DIGIKAM_SIDECAR, [NamedRegion(ALICE.box, "Carol")], (640, 480))
    assert tags(written).count("People/Carol") == 1 and subjects(written).count("People|Carol") == 1
    assert keywords(written, OURS, "TagsList") == []  # nothing of ours to take away later
    assert render(written, [], (640, 480)) == DIGIKAM_SIDECAR


def test_renaming_replaces_the_earlier_name_everywhere() -> None:
    first = render(DIGIKAM_SIDECAR, [NamedRegion(ALICE.box, "Alice")], (640, 480))
    second = render(first, [NamedRegion(ALICE.box, "Bob")], (640, 480))
    assert b"Alice" not in second
    assert [n for n, _ in named(second)] == ["Carol", "Bob"]
    assert tags(second) == ["People/Carol", "Holiday", "People/Bob"]
    assert subjects(second) == ["People|Carol", "Holiday", "People|Bob"]
    assert second == render(DIGIKAM_SIDECAR, [NamedRegion(ALICE.box, "Bob")], (640, 480))
    assert render(second, [], (640, 480)) == DIGIKAM_SIDECAR


def test_new_dimensions_replace_the_old_ones() -> None:
    written = render(DIGIKAM_SIDECAR, [ALICE], (1280, 960))
    assert parse(written).dimensions == (1280, 960)
    assert b'stDim:w="640"' not in written and written.count(b"AppliedToDimensions") == 1


def test_regions_of_this_app_rewritten_by_exiftool_are_still_this_apps() -> None:
    """exiftool rewrites documents in its own form: the marker becomes an element."""
    ours_as_elements = EXIFTOOL.replace(
        b"<mwg-rs:Name>Ann Smith</mwg-rs:Name>",
        b"<mwg-rs:Name>Old Name</mwg-rs:Name><faceorganizer:Managed "
        b"xmlns:faceorganizer='http://ns.faceorganizer.app/1.0/'>True</faceorganizer:Managed>")
    written = render(ours_as_elements, [BOB], (4000, 3000))
    assert b"Old Name" not in written and [n for n, _ in named(written)] == ["Bob"]


def test_other_prefixes_for_the_same_namespaces_are_used() -> None:
    renamed = (DIGIKAM_SIDECAR.replace(b"mwg-rs:", b"mwgrs:").replace(b"xmlns:mwg-rs=", b"xmlns:mwgrs=")
               .replace(b"stArea:", b"area:").replace(b"xmlns:stArea=", b"xmlns:area="))
    written = render(renamed, [ALICE], (640, 480))
    assert b"mwg-rs:" not in written and b"stArea:" not in written and b'area:x="0.100000"' in written
    assert [n for n, _ in named(written)] == ["Carol", "Alice"]
    assert render(written, [ALICE], (640, 480)) == written


def test_the_new_description_shares_the_documents_about() -> None:
    written = render(INLINE, [ALICE], (800, 600))
    assert written.count(b'rdf:about="uuid:faf5bdd5-ba3d-11da-ad31-d33d75182f1b"') == 2


def test_crlf_documents_get_crlf_lines() -> None:
    crlf = DIGIKAM_SIDECAR.replace(b"\n", b"\r\n")
    written = render(crlf, [ALICE, BOB], (640, 480))
    assert b"\n" not in written.replace(b"\r\n", b"")
    assert render(written, [ALICE, BOB], (640, 480)) == written and render(written, [], (640, 480)) == crlf


FORMS_HEAD = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'\n  <rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"'
              b' xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmlns:digiKam="http://www.digikam.org/ns/1.0/"'
              b' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="1">\n')
FORMS_TAIL = b"\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"


@pytest.mark.parametrize("form", [
    b'   <mwg-rs:Regions rdf:parseType="Resource"/>',
    b'   <mwg-rs:Regions>\n    <rdf:Description>\n     <mwg-rs:RegionList>\n      <rdf:Bag>\n'
    b'       <rdf:li rdf:parseType="Resource"><mwg-rs:Type>Face</mwg-rs:Type><mwg-rs:Area stArea:x="0.9" '
    b'stArea:y="0.9" stArea:w="0.1" stArea:h="0.1"/></rdf:li>\n      </rdf:Bag>\n     </mwg-rs:RegionList>\n'
    b'    </rdf:Description>\n   </mwg-rs:Regions>',
    b'   <mwg-rs:Regions rdf:parseType="Resource">\n    <mwg-rs:RegionList/>\n   </mwg-rs:Regions>\n'
    b'   <digiKam:TagsList/>',
    b'   <mwg-rs:Regions rdf:parseType="Resource">\n    <mwg-rs:RegionList><rdf:Bag/></mwg-rs:RegionList>\n'
    b'   </mwg-rs:Regions>\n   <digiKam:TagsList><rdf:Seq></rdf:Seq></digiKam:TagsList>',
], ids=["empty-regions", "description-holder", "empty-properties", "empty-arrays"])
def test_other_forms_of_the_same_properties(form: bytes) -> None:
    """Regions as an empty element or an rdf:Description, lists that are empty elements."""
    document = FORMS_HEAD + form + FORMS_TAIL
    written = render(document, [ALICE], (10, 10))
    assert named(written)[-1][0] == "Alice" and "People/Alice" in tags(written)
    assert render(written, [ALICE], (10, 10)) == written
    cleared = render(written, [], (10, 10))
    assert b"Alice" not in cleared and b"faceorganizer" not in cleared
    assert named(cleared) == named(document) and b'xmp:Rating="1"' in cleared


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_writing_the_same_faces_again_changes_nothing(sample: str) -> None:
    for faces in ([ALICE], [ALICE, BOB], [NamedRegion(CAROL, "Carol")], [NamedRegion(ANN, "Zoë")], []):
        once = render(SAMPLES[sample], faces, DIMENSIONS[sample])
        assert render(once, faces, DIMENSIONS[sample]) == once


# Documents that are not written to -------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="&lol9;"/>
</rdf:RDF></x:xmpmeta>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="&secret;"/>
</rdf:RDF></x:xmpmeta>"""


@pytest.mark.parametrize(("document", "reason"), [
    (BILLION_LAUGHS, "DTD"),
    (EXTERNAL, "DTD"),
    (b"<!DOCTYPE x:xmpmeta>" + INLINE, "DTD"),
    (INLINE.replace(b'xmp:Rating="5"', b'xmp:Rating="&undefined;"'), "well-formed"),
    (b"", "well-formed"),
    (b"\x01\xff garbage", "well-formed"),
    (INLINE[:-10], "well-formed"),
    (INLINE + INLINE, "well-formed"),
    ("<x/>".encode("utf-16"), "UTF-8"),
    (INLINE.decode().encode("utf-16-be"), "UTF-8"),
    (INLINE + b"\x00", "UTF-8"),
    (b"<html><body>not XMP</body></html>", "not XMP"),
    (b"<a>" + b"<b/>" * 150_000 + b"</a>", "not XMP"),
    (b"<a>" * 5000 + b"</a>" * 5000, "nested"),
    (b"<a>" + b"<b/>" * 300_000 + b"</a>", "too large"),
    (b" " * MAX_BYTES + INLINE, "more than"),
    (DIGIKAM_SIDECAR.replace(b"<rdf:Seq>\n     <rdf:li>People/Carol</rdf:li>\n     <rdf:li>Holiday</rdf:li>\n"
                             b"    </rdf:Seq>", b"People/Carol"), "TagsList"),
    (DIGIKAM_SIDECAR.replace(b"<mwg-rs:RegionList>", b"<mwg-rs:RegionList>text").replace(
        b"</rdf:Bag>\n    </mwg-rs:RegionList>", b"</rdf:Bag>\n    <rdf:Bag/></mwg-rs:RegionList>"),
     "RegionList"),
])
def test_documents_that_cannot_be_read_with_certainty_are_refused(document: bytes, reason: str) -> None:
    with pytest.raises(XmpWriteError, match=reason):
        render(document, [ALICE], (10, 10))


# Any faces, any document -----------------------------------------------------------------------

@st.composite
def faces(draw: st.DrawFn) -> list[NamedRegion]:
    found = []
    for _ in range(draw(st.integers(0, 5))):
        x1, y1 = draw(st.floats(0, 0.9)), draw(st.floats(0, 0.9))
        w, h = draw(st.floats(0.001, 1 - x1)), draw(st.floats(0.001, 1 - y1))
        name = draw(st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")), max_size=12))
        found.append(NamedRegion((x1, y1, x1 + w, y1 + h), name))
    return found


FOREIGN_FACES = {"new": [], "exiftool": [ANN], "digikam": [CAROL], "inline": []}


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(list(SAMPLES)), first=faces(), second=faces())
def test_any_faces_read_back_and_rewrite_cleanly(sample: str, first: list[NamedRegion],
                                                 second: list[NamedRegion]) -> None:
    dimensions = DIMENSIONS[sample]
    once = render(SAMPLES[sample], first, dimensions)
    assert render(once, first, dimensions) == once
    if not any(iou(f.box, box) >= 0.3 for f in first for box in FOREIGN_FACES[sample]):
        assert render(once, [], dimensions) == render(SAMPLES[sample], [], dimensions)
    again = render(once, second, dimensions)
    assert render(again, second, dimensions) == again
    regions = parse(again).regions  # this app's come after the others'
    ours = regions[len(regions) - len(second):]
    assert len(ours) == len(second)
    for region, face in zip(ours, second, strict=True):
        assert region.box == pytest.approx(face.box, abs=1e-6)
        assert region.name == (" ".join(face.name.split()) or None)
    names = {" ".join(f.name.split()) for f in second} - {""}
    assert {t.removeprefix("People/") for t in tags(again) if t.startswith("People/")} >= names
    assert {t.removeprefix("People|") for t in subjects(again) if t.startswith("People|")} >= names
    assert len(set(tags(again))) == len(tags(again))
