"""Reading face regions from XMP: both MWG serializations, Microsoft's, orientation, and
hostile documents (a warning each, never an exception or a hang)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image, ImageOps

from faceorganizer.xmp import MAX_REGIONS, displayed_box, parse

# exiftool writes elements (rdf:parseType='Resource'); x, y is the centre.
EXIFTOOL = """<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about='' xmlns:mwg-rs='http://www.metadataworkinggroup.com/schemas/regions/'
   xmlns:stArea='http://ns.adobe.com/xmp/sType/Area#' xmlns:stDim='http://ns.adobe.com/xap/1.0/sType/Dimensions#'>
  <mwg-rs:Regions rdf:parseType='Resource'>
   <mwg-rs:AppliedToDimensions rdf:parseType='Resource'>
    <stDim:h>3000</stDim:h><stDim:unit>pixel</stDim:unit><stDim:w>4000</stDim:w>
   </mwg-rs:AppliedToDimensions>
   <mwg-rs:RegionList><rdf:Bag>
    <rdf:li rdf:parseType='Resource'>
     <mwg-rs:Area rdf:parseType='Resource'>
      <stArea:h>0.2</stArea:h><stArea:unit>normalized</stArea:unit><stArea:w>0.1</stArea:w>
      <stArea:x>0.31</stArea:x><stArea:y>0.4</stArea:y>
     </mwg-rs:Area>
     <mwg-rs:Name>Ann  Smith</mwg-rs:Name><mwg-rs:Type>Face</mwg-rs:Type>
    </rdf:li>
    <rdf:li rdf:parseType='Resource'>
     <mwg-rs:Area rdf:parseType='Resource'><stArea:h>0.3</stArea:h><stArea:w>0.3</stArea:w>
      <stArea:x>0.5</stArea:x><stArea:y>0.5</stArea:y></mwg-rs:Area>
     <mwg-rs:Name>Rex</mwg-rs:Name><mwg-rs:Type>Pet</mwg-rs:Type>
    </rdf:li>
   </rdf:Bag></mwg-rs:RegionList>
  </mwg-rs:Regions>
 </rdf:Description>
</rdf:RDF></x:xmpmeta>
<?xpacket end='w'?>"""

# exiv2 / digiKam write attributes; Mylio an rdf:Seq.
DIGIKAM = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
   xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
   xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
   tiff:Orientation="6">
  <mwg-rs:Regions rdf:parseType="Resource">
   <mwg-rs:AppliedToDimensions stDim:w="640" stDim:h="480" stDim:unit="pixel"/>
   <mwg-rs:RegionList><rdf:Seq>
    <rdf:li><rdf:Description mwg-rs:Name="Bob" mwg-rs:Type="Face">
     <mwg-rs:Area stArea:x="0.5" stArea:y="0.25" stArea:w="0.2" stArea:h="0.1" stArea:unit="normalized"/>
    </rdf:Description></rdf:li>
    <rdf:li><rdf:Description mwg-rs:Type="Face">
     <mwg-rs:Area stArea:x="0.8" stArea:y="0.8" stArea:w="0.1" stArea:h="0.1"/>
    </rdf:Description></rdf:li>
   </rdf:Seq></mwg-rs:RegionList>
  </mwg-rs:Regions>
 </rdf:Description>
</rdf:RDF></x:xmpmeta>"""

# Windows Photo Gallery: x, y the top-left corner.
MICROSOFT = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:MP="http://ns.microsoft.com/photo/1.2/"
   xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
   xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">
  <MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>
   <rdf:li rdf:parseType="Resource">
    <MPReg:Rectangle>0.1, 0.2, 0.3, 0.4</MPReg:Rectangle>
    <MPReg:PersonDisplayName>Cat</MPReg:PersonDisplayName>
   </rdf:li>
  </rdf:Bag></MPRI:Regions></MP:RegionInfo>
 </rdf:Description>
</rdf:RDF></x:xmpmeta>"""


def test_exiftool_elements_centre_coordinates_and_no_pets() -> None:
    found = parse(EXIFTOOL.encode())
    assert found.warnings == []
    assert found.dimensions == (4000, 3000)
    assert [(r.name, r.source) for r in found.regions] == [("Ann Smith", "mwg")]
    assert found.regions[0].box == pytest.approx((0.26, 0.3, 0.36, 0.5))


def test_digikam_attributes_a_sequence_an_unnamed_face_and_the_orientation() -> None:
    found = parse(DIGIKAM)
    assert found.dimensions == (640, 480) and found.orientation == 6
    assert [r.name for r in found.regions] == ["Bob", None]
    assert found.regions[0].box == pytest.approx((0.4, 0.2, 0.6, 0.3))


def test_microsoft_regions_are_top_left_and_only_a_fallback() -> None:
    found = parse(MICROSOFT)
    assert [(r.name, r.source) for r in found.regions] == [("Cat", "mp")]
    assert found.regions[0].box == pytest.approx((0.1, 0.2, 0.4, 0.6))
    both = DIGIKAM.replace("</rdf:RDF>", MICROSOFT.split("<rdf:RDF", 1)[1].split(">", 1)[1]
                           .rsplit("</rdf:RDF>", 1)[0] + "</rdf:RDF>")
    assert {r.source for r in parse(both).regions} == {"mwg"}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_regions_turn_with_the_pixels(orientation: int) -> None:
    """A white block in the stored image: the box turned by ``displayed_box`` is where Pillow's
    own turning of the pixels puts it."""
    stored = np.zeros((60, 100), np.uint8)
    box = (0.1, 0.2, 0.3, 0.5)  # x1, y1, x2, y2 of the stored image
    stored[int(0.2 * 60):int(0.5 * 60), int(0.1 * 100):int(0.3 * 100)] = 255
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    shown = np.asarray(ImageOps.exif_transpose(image))
    ys, xs = np.nonzero(shown)
    height, width = shown.shape
    expected = (xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height)
    assert displayed_box(box, orientation) == pytest.approx(expected, abs=1e-9)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/">&secret;</x:xmpmeta>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL, "<x:xmpmeta", "", "\x00\xff garbage",
                                      "<a>" * 10 + "</a>"])
def test_hostile_or_broken_documents_give_a_warning(document: str) -> None:
    started = time.monotonic()
    found = parse(document)
    assert found.regions == [] and found.warnings
    assert "passwd" not in " ".join(found.warnings) or "refused" in found.warnings[0]
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("area", [
    'stArea:x="-0.5" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"',
    'stArea:x="1.7" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"',
    'stArea:x="NaN" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"',
    'stArea:x="inf" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"',
    'stArea:x="0.5" stArea:y="0.5" stArea:w="0" stArea:h="0.1"',
    'stArea:x="0.5" stArea:y="0.5" stArea:w="-0.2" stArea:h="0.1"',
    'stArea:x="half" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"',
    'stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"',
])
def test_impossible_coordinates_leave_the_region_out_with_a_warning(area: str) -> None:
    document = DIGIKAM.replace('stArea:x="0.8" stArea:y="0.8" stArea:w="0.1" stArea:h="0.1"', area)
    found = parse(document)
    assert [r.name for r in found.regions] == ["Bob"] and len(found.warnings) == 1


def test_thousands_of_regions_are_cut_short_quickly() -> None:
    item = ('<rdf:li><rdf:Description mwg-rs:Type="Face"><mwg-rs:Area stArea:x="0.5" stArea:y="0.5" '
            'stArea:w="0.1" stArea:h="0.1"/></rdf:Description></rdf:li>')
    head, tail = DIGIKAM.split("<rdf:Seq>")
    document = head + "<rdf:Seq>" + item * 20000 + tail.split("</rdf:Seq>", 1)[0].split("<rdf:li>")[0] \
        + "</rdf:Seq>" + tail.split("</rdf:Seq>", 1)[1]
    started = time.monotonic()
    found = parse(document)
    assert len(found.regions) == MAX_REGIONS and any("more than" in w for w in found.warnings)
    assert time.monotonic() - started < 5.0


def test_a_huge_document_is_not_read() -> None:
    found = parse(b" " * (5 * 1024 * 1024) + DIGIKAM.encode())
    assert found.regions == [] and "larger than" in found.warnings[0]
